import type { Config } from '@mediaflow/config';
import type { Logger } from '@mediaflow/logger';
import { GeminiImageGenerator } from './generators/gemini.ts';
import type { ImageGenerator } from './generators/image-generator.ts';
import { LocalImageGenerator } from './generators/local.ts';
import { CloudinaryStore } from './stores/cloudinary.ts';
import { FallbackStore } from './stores/fallback.ts';
import { ImageKitStore } from './stores/imagekit.ts';
import { LocalDiskStore } from './stores/local-disk.ts';
import type { MediaStore } from './stores/media-store.ts';
import { RetryingStore } from './stores/retrying.ts';

/** Cloudinary never retries by itself: three tries with backoff before falling back to ImageKit. */
const CLOUDINARY_RETRIES = { attempts: 3, baseDelayMs: 500 };

/** Gemini when GEMINI_API_KEY is set, the local stand-in otherwise. */
export function buildImageGenerator(config: Config): ImageGenerator {
  return config.gemini ? new GeminiImageGenerator(config.gemini) : new LocalImageGenerator();
}

/**
 * Which stores run follows from which credentials are set: Cloudinary first, ImageKit as its fallback,
 * either alone, or the local disk stand-in when neither is configured.
 */
export function buildMediaStore(config: Config, logger: Logger): MediaStore {
  const stores: MediaStore[] = [];
  if (config.cloudinary) {
    const cloudinary = new CloudinaryStore({ ...config.cloudinary, timeoutMs: config.uploadTimeoutMs });
    stores.push(new RetryingStore(cloudinary, CLOUDINARY_RETRIES, logger));
  }
  if (config.imagekit) {
    stores.push(
      new ImageKitStore({
        privateKey: config.imagekit.privateKey,
        baseUrl: config.imagekit.baseUrl,
        timeoutMs: config.uploadTimeoutMs,
      }),
    );
  }
  if (usesLocalStore(config)) return new LocalDiskStore({ root: config.mediaDir, publicUrl: config.publicUrl });
  return stores.length === 1 && stores[0] ? stores[0] : new FallbackStore(stores, logger);
}

/** True when no cloud store is configured and the local disk store stands in. */
export function usesLocalStore(config: Config): boolean {
  return config.cloudinary === undefined && config.imagekit === undefined;
}
