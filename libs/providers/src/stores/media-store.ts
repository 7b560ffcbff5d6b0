export type StoreProvider = 'cloudinary' | 'imagekit' | 'local';

/** Folders are a contract with the stores' owners: temporary generations land here. */
export const GENERATED_FOLDER = 'ai-generated-images';

export interface UploadRequest {
  data: Buffer;
  folder: string;
  /** File name without extension; chosen by the service, never by a client. */
  publicId: string;
  format: 'jpg';
}

export interface StoredMedia {
  provider: StoreProvider;
  /** The store's own id: Cloudinary public_id, ImageKit fileId, local path below MEDIA_DIR. */
  providerId: string;
  /** Where the bytes are served. */
  url: string;
  bytes: number;
}

/** A place that keeps media and serves it by URL. Failures are ProviderErrors. */
export interface MediaStore {
  /** Human-readable, for logs: `cloudinary`, `imagekit → fallback`, … */
  readonly name: string;
  upload(request: UploadRequest): Promise<StoredMedia>;
}
