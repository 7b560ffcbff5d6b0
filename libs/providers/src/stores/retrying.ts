import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@mediaflow/logger';
import { ProviderError } from '../errors.ts';
import type { MediaStore, StoredMedia, UploadRequest } from './media-store.ts';

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** Delay before the second try; doubles each time, with full jitter. */
  baseDelayMs: number;
}

/**
 * Retries a store's passing failures (429, 5xx, timeouts, network) in-process, for stores whose SDK
 * does not (Cloudinary). Permanent failures pass straight through.
 */
export class RetryingStore implements MediaStore {
  readonly name: string;
  private readonly inner: MediaStore;
  private readonly options: RetryOptions;
  private readonly logger: Logger;

  constructor(inner: MediaStore, options: RetryOptions, logger: Logger) {
    this.inner = inner;
    this.options = options;
    this.logger = logger;
    this.name = inner.name;
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inner.upload(request);
      } catch (error) {
        const retryable = error instanceof ProviderError && error.retryable;
        if (!retryable || attempt >= this.options.attempts) throw error;
        const delay = Math.random() * this.options.baseDelayMs * 2 ** (attempt - 1);
        this.logger.warn(
          { err: error, store: this.name, attempt, delayMs: Math.round(delay) },
          'upload failed; retrying',
        );
        await sleep(delay);
      }
    }
  }
}
