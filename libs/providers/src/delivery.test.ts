import { describe, expect, it } from 'vitest';
import { deliveryFor } from './delivery.ts';

describe('deliveryFor', () => {
  it('gives Cloudinary images f_auto,q_auto and a srcset of widths', () => {
    const delivery = deliveryFor({
      provider: 'cloudinary',
      url: 'https://res.cloudinary.com/demo/image/upload/v1/auto/a.jpg',
      resourceType: 'image',
    });
    expect(delivery.deliveryUrl).toBe('https://res.cloudinary.com/demo/image/upload/f_auto,q_auto/v1/auto/a.jpg');
    expect(delivery.srcset?.split(', ')).toEqual([
      'https://res.cloudinary.com/demo/image/upload/f_auto,q_auto,w_320/v1/auto/a.jpg 320w',
      'https://res.cloudinary.com/demo/image/upload/f_auto,q_auto,w_640/v1/auto/a.jpg 640w',
      'https://res.cloudinary.com/demo/image/upload/f_auto,q_auto,w_1024/v1/auto/a.jpg 1024w',
      'https://res.cloudinary.com/demo/image/upload/f_auto,q_auto,w_1600/v1/auto/a.jpg 1600w',
    ]);
  });

  it('gives Cloudinary videos a poster frame', () => {
    const delivery = deliveryFor({
      provider: 'cloudinary',
      url: 'https://res.cloudinary.com/demo/video/upload/v1/auto/clip.mp4',
      resourceType: 'video',
    });
    expect(delivery.posterUrl).toBe('https://res.cloudinary.com/demo/video/upload/so_0,f_jpg/v1/auto/clip.jpg');
    expect(delivery.srcset).toBeUndefined();
  });

  it('gives ImageKit images tr=f-auto,q-auto and videos a thumbnail', () => {
    const image = deliveryFor({
      provider: 'imagekit',
      url: 'https://ik.imagekit.io/demo/auto/a.jpg',
      resourceType: 'image',
    });
    expect(image.deliveryUrl).toBe('https://ik.imagekit.io/demo/auto/a.jpg?tr=f-auto,q-auto');
    expect(image.srcset).toContain('https://ik.imagekit.io/demo/auto/a.jpg?tr=f-auto,q-auto,w-640 640w');
    const video = deliveryFor({
      provider: 'imagekit',
      url: 'https://ik.imagekit.io/demo/auto/c.mp4',
      resourceType: 'video',
    });
    expect(video.posterUrl).toBe('https://ik.imagekit.io/demo/auto/c.mp4/ik-thumbnail.jpg');
  });

  it('serves the local store as is', () => {
    expect(
      deliveryFor({ provider: 'local', url: 'http://localhost:3000/media/auto/a.jpg', resourceType: 'image' }),
    ).toEqual({
      deliveryUrl: 'http://localhost:3000/media/auto/a.jpg',
    });
  });
});
