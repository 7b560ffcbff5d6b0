import sharp from 'sharp';

/**
 * How a process's image work (decoding, cropping, JPEG encoding, EXIF removal) shares its CPU; called once
 * at start by every process that handles images. Each image is worked on by one libvips thread, so that
 * many images at once (a generator runs dozens of jobs) spread over libuv's thread pool — off the event
 * loop, UV_THREADPOOL_SIZE threads, 4 by default — instead of each taking every core and all of them
 * stalling one another and the calls waiting on the network. And nothing is cached: no image is seen
 * twice, so the cache would only hold memory (up to 50 MB) that the images in work need.
 */
export function configureImageProcessing(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}
