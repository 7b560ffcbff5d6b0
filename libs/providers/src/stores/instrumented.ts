import type { StoredMedia, StoreProvider } from '@mediaflow/domain';
import { observeProviderCall } from '@mediaflow/telemetry';
import type { MediaStore, PromoteRequest, UploadRequest } from './media-store.ts';

/** Counts, times and traces every call one store makes: wrapped innermost, so each try is one call. */
export class InstrumentedStore implements MediaStore {
  readonly name: string;
  readonly provider: StoreProvider;
  private readonly inner: MediaStore;

  constructor(inner: MediaStore) {
    this.inner = inner;
    this.name = inner.name;
    this.provider = inner.provider;
  }

  upload(request: UploadRequest): Promise<StoredMedia> {
    return observeProviderCall(this.name, 'upload', () => this.inner.upload(request));
  }

  promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    return observeProviderCall(this.name, 'promote', () => this.inner.promote(source, request));
  }

  delete(media: StoredMedia): Promise<void> {
    return observeProviderCall(this.name, 'delete', () => this.inner.delete(media));
  }
}
