export type StoreProvider = 'cloudinary' | 'imagekit' | 'local';
export type ResourceType = 'image' | 'video';

/** Folders are a contract with the stores' owners. */
export const FOLDERS = {
  /** Temporary: generated images until a submission promotes them. */
  generated: 'ai-generated-images',
  /** Temporary: files uploaded with a submission until the storage worker promotes them. */
  uploads: 'uploads',
  /** Permanent: social post media, images and videos. */
  social: 'auto',
  blogBanners: 'blog_banners',
  blogFeatured: 'blog_featured',
} as const;
export const GENERATED_FOLDER = FOLDERS.generated;
export type PermanentFolder = typeof FOLDERS.social | typeof FOLDERS.blogBanners | typeof FOLDERS.blogFeatured;

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

/** A file in a store: what jobs carry and rows record instead of bytes. */
export interface StoredMedia {
  provider: StoreProvider;
  /** The store's own id: Cloudinary public_id, ImageKit fileId, local path below MEDIA_DIR. */
  providerId: string;
  /** Where the bytes are served. */
  url: string;
  bytes: number;
  resourceType: ResourceType;
  format: string;
  /** The store's path for the file where it differs from providerId (ImageKit's filePath). */
  path?: string;
  width?: number;
  height?: number;
  /** Seconds, for videos, when the store reports it. */
  duration?: number;
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
  provider: string;
  providerId: string;
  url: string;
  bytes: number;
  format: string;
  width: number;
  height: number;
}): StoredMedia {
  return {
    provider: asset.provider as StoreProvider,
    providerId: asset.providerId,
    url: asset.url,
    bytes: asset.bytes,
    resourceType: 'image',
    format: asset.format,
    width: asset.width,
    height: asset.height,
  };
}
