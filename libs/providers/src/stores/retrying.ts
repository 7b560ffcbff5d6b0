import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredMedia, StoreProvider } from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { ProviderError } from '../errors.ts';
import type { MediaStore, PromoteRequest, UploadRequest } from './media-store.ts';

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** Delay before the second try; doubles each time, with full jitter. */
  baseDelayMs: number;
}

/**
 * Retries a store's passing failures (5xx, timeouts, network) in-process, for stores whose SDK does not
 * (Cloudinary). Permanent failures and quota refusals pass straight through.
 */
export class RetryingStore implements MediaStore {
  readonly name: string;
  readonly provider: StoreProvider;
  private readonly inner: MediaStore;
  private readonly options: RetryOptions;
  private readonly logger: Logger;

  constructor(inner: MediaStore, options: RetryOptions, logger: Logger) {
    this.inner = inner;
    this.options = options;
    this.logger = logger;
    this.name = inner.name;
    this.provider = inner.provider;
  }

  upload(request: UploadRequest): Promise<StoredMedia> {
    return this.retry('upload', () => this.inner.upload(request));
  }

  promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    return this.retry('promote', () => this.inner.promote(source, request));
  }

  delete(media: StoredMedia): Promise<void> {
    return this.retry('delete', () => this.inner.delete(media));
  }

  private async retry<T>(operation: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        // A quota is not a passing failure: trying again at once only spends more of it.
        const retryable = error instanceof ProviderError && error.retryable && error.code !== 'provider_quota';
        if (!retryable || attempt >= this.options.attempts) throw error;
        const delay = Math.random() * this.options.baseDelayMs * 2 ** (attempt - 1);
        this.logger.warn(
          { err: error, store: this.name, attempt, delayMs: Math.round(delay) },
          `${operation} failed; retrying`,
        );
        await sleep(delay);
      }
    }
  }
}
