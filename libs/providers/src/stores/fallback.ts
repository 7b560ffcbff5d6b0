import type { Logger } from '@mediaflow/logger';
import { ProviderError } from '../errors.ts';
import type { MediaStore, StoredMedia, UploadRequest } from './media-store.ts';

/** Tries each store in turn; the first that succeeds keeps the file. */
export class FallbackStore implements MediaStore {
  readonly name: string;
  private readonly stores: MediaStore[];
  private readonly logger: Logger;

  constructor(stores: MediaStore[], logger: Logger) {
    if (stores.length === 0) throw new Error('FallbackStore needs at least one store');
    this.stores = stores;
    this.logger = logger;
    this.name = stores.map((store) => store.name).join(' → ');
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const failures: unknown[] = [];
    for (const [index, store] of this.stores.entries()) {
      try {
        return await store.upload(request);
      } catch (error) {
        failures.push(error);
        const next = this.stores[index + 1];
        if (next)
          this.logger.warn(
            { err: error, from: store.name, to: next.name },
            'upload failed; falling back to the next store',
          );
      }
    }
    const messages = failures.map(
      (error, i) => `${this.stores[i]?.name}: ${error instanceof Error ? error.message : String(error)}`,
    );
    throw new ProviderError({
      provider: this.name,
      code: 'provider_unavailable',
      // Worth another try later only if some store failed for a passing reason.
      retryable: failures.some((error) => !(error instanceof ProviderError) || error.retryable),
      message: `every store failed: ${messages.join('; ')}`,
      cause: failures.at(-1),
    });
  }
}
