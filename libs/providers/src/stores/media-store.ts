import type { PermanentFolder, ResourceType, StoredMedia, StoreProvider } from '@mediaflow/domain';

export interface UploadRequest {
  /** The bytes, or a file on local disk (read streaming, in chunks for large videos). */
  source: Buffer | { path: string };
  folder: string;
  /** File name without extension; chosen by the service, never by a client. */
  publicId: string;
  /** File extension the stored file gets, e.g. jpg, png, mp4. */
  format: string;
  resourceType: ResourceType;
  /** `best`: store at the best automatic quality (Cloudinary `q_auto:best`); generated images ask for it. */
  quality?: 'best';
}

export interface PromoteRequest {
  folder: PermanentFolder;
  publicId: string;
  /** Keep the source where it is (it is in use elsewhere): copy instead of moving. */
  copy: boolean;
}

/** A place that keeps media and serves it by URL. Failures are ProviderErrors. */
export interface MediaStore {
  /** Human-readable, for logs: `cloudinary`, `cloudinary → imagekit`, … */
  readonly name: string;
  /** The provider new files go to: what `StoredMedia.provider` says of the files this store keeps. */
  readonly provider: StoreProvider;
  upload(request: UploadRequest): Promise<StoredMedia>;
  /**
   * Puts `source` into a permanent folder: a server-side move when it already sits in this store,
   * otherwise the store fetches it from the source's URL. Safe to repeat after a crash: a source
   * already moved is found at its destination.
   */
  promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia>;
  /** Deletes a file; one already gone is not an error. */
  delete(media: StoredMedia): Promise<void>;
}

/** The file name a stored file gets. */
export function fileName(publicId: string, format: string): string {
  return `${publicId}.${format}`;
}

/** What a store may not learn itself when it fetches or moves a file: carried over from the source. */
export function dimensionsOf(source: StoredMedia): Pick<StoredMedia, 'width' | 'height' | 'duration'> {
  const { width, height, duration } = source;
  return { width, height, duration };
}

/** A generated image's record as stored media, for promoting or deleting it. */
export function generatedImageMedia(asset: {
  provider: StoreProvider;
  providerId: string;
  url: string;
  bytes: number;
  format: string;
  width: number;
  height: number;
}): StoredMedia {
  return {
    provider: asset.provider,
    providerId: asset.providerId,
    url: asset.url,
    bytes: asset.bytes,
    resourceType: 'image',
    format: asset.format,
    width: asset.width,
    height: asset.height,
  };
}
