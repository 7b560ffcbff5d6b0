import type { Config } from '@mediaflow/config';
import type { Logger } from '@mediaflow/logger';
import { GeminiImageGenerator } from './generators/gemini.ts';
import type { ImageGenerator } from './generators/image-generator.ts';
import { InstrumentedGenerator } from './generators/instrumented.ts';
import { LocalImageGenerator } from './generators/local.ts';
import { QuotaGuardedGenerator } from './generators/quota-guard.ts';
import { CircuitBreakerStore } from './stores/circuit-breaker.ts';
import { CloudinaryStore } from './stores/cloudinary.ts';
import { FallbackStore } from './stores/fallback.ts';
import { ImageKitStore } from './stores/imagekit.ts';
import { InstrumentedStore } from './stores/instrumented.ts';
import { LocalDiskStore } from './stores/local-disk.ts';
import type { MediaStore } from './stores/media-store.ts';
import { RetryingStore } from './stores/retrying.ts';

/** Cloudinary never retries by itself: three tries with backoff before falling back to ImageKit. */
const CLOUDINARY_RETRIES = { attempts: 3, baseDelayMs: 500 };
/** After five failed calls in a row, Cloudinary is skipped for 30 s, then probed again. */
const CLOUDINARY_CIRCUIT = { failureThreshold: 5, openMs: 30_000 };

/** Gemini (kept from knocking while its quota is out) when GEMINI_API_KEY is set, the local stand-in otherwise. */
export function buildImageGenerator(config: Config): ImageGenerator {
  return config.gemini
    ? new QuotaGuardedGenerator(new InstrumentedGenerator(new GeminiImageGenerator(config.gemini), 'gemini'), 'gemini')
    : new InstrumentedGenerator(new LocalImageGenerator(), 'local');
}

/**
 * Which stores run follows from which credentials are set: Cloudinary first, ImageKit as its fallback,
 * either alone, or the local disk stand-in when neither is configured.
 */
export function buildMediaStore(config: Config, logger: Logger): MediaStore {
  const stores: MediaStore[] = [];
  if (config.cloudinary) {
    const cloudinary = new InstrumentedStore(
      new CloudinaryStore({ ...config.cloudinary, timeoutMs: config.uploadTimeoutMs }),
    );
    const retrying = new RetryingStore(cloudinary, CLOUDINARY_RETRIES, logger);
    // The breaker matters only with somewhere else to go.
    stores.push(config.imagekit ? new CircuitBreakerStore(retrying, CLOUDINARY_CIRCUIT, logger) : retrying);
  }
  if (config.imagekit) {
    stores.push(
      new InstrumentedStore(
        new ImageKitStore({
          privateKey: config.imagekit.privateKey,
          baseUrl: config.imagekit.baseUrl,
          timeoutMs: config.uploadTimeoutMs,
        }),
      ),
    );
  }
  if (usesLocalStore(config))
    return new InstrumentedStore(
      new LocalDiskStore({
        root: config.mediaDir,
        publicUrl: config.publicUrl,
        timeoutMs: config.uploadTimeoutMs,
      }),
    );
  return stores.length === 1 && stores[0] ? stores[0] : new FallbackStore(stores, logger);
}

/** True when no cloud store is configured and the local disk store stands in. */
export function usesLocalStore(config: Config): boolean {
  return config.cloudinary === undefined && config.imagekit === undefined;
}
