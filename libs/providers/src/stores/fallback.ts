import type { StoredMedia, StoreProvider } from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { storeFallbacks } from '@mediaflow/telemetry';
import { ProviderError } from '../errors.ts';
import type { MediaStore, PromoteRequest, UploadRequest } from './media-store.ts';

/**
 * Tries each store in turn; the first that succeeds keeps the file. Deleting goes to the store that
 * holds the file, whichever that is.
 */
export class FallbackStore implements MediaStore {
  readonly name: string;
  /** The first store's: new files go there. */
  readonly provider: StoreProvider;
  private readonly stores: MediaStore[];
  private readonly logger: Logger;

  constructor(stores: MediaStore[], logger: Logger) {
    const [first] = stores;
    if (!first) throw new Error('FallbackStore needs at least one store');
    this.stores = stores;
    this.logger = logger;
    this.name = stores.map((store) => store.name).join(' → ');
    this.provider = first.provider;
  }

  upload(request: UploadRequest): Promise<StoredMedia> {
    return this.firstThatWorks('upload', (store) => store.upload(request));
  }

  async promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    const promoted = await this.firstThatWorks('promote', (store) => store.promote(source, request));
    if (!request.copy && promoted.provider !== source.provider) {
      // The file was fetched into another store, so the temporary one stayed behind. Removing it is
      // housekeeping: the promotion succeeded, and the store that holds it may be the one failing.
      await this.delete(source).catch((error: unknown) =>
        this.logger.warn(
          { err: error, source: source.providerId },
          'could not delete a temporary file after promoting it elsewhere',
        ),
      );
    }
    return promoted;
  }

  async delete(media: StoredMedia): Promise<void> {
    const owner = this.stores.find((store) => store.provider === media.provider) ?? this.stores[0];
    await owner?.delete(media);
  }

  private async firstThatWorks(
    operation: string,
    run: (store: MediaStore) => Promise<StoredMedia>,
  ): Promise<StoredMedia> {
    const failures: unknown[] = [];
    for (const [index, store] of this.stores.entries()) {
      try {
        return await run(store);
      } catch (error) {
        failures.push(error);
        const next = this.stores[index + 1];
        if (next) {
          storeFallbacks.inc({ from: store.name, to: next.name, operation });
          this.logger.warn(
            { err: error, from: store.name, to: next.name },
            `${operation} failed; falling back to the next store`,
          );
        }
      }
    }
    const messages = failures.map(
      (error, i) => `${this.stores[i]?.name}: ${error instanceof Error ? error.message : String(error)}`,
    );
    throw new ProviderError({
      provider: this.provider,
      code: 'provider_unavailable',
      // Worth another try later only if some store failed for a passing reason.
      retryable: failures.some((error) => !(error instanceof ProviderError) || error.retryable),
      message: `every store failed to ${operation}: ${messages.join('; ')}`,
      cause: failures.at(-1),
    });
  }
}
