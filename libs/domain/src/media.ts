/** The stores a file can sit in; each provider has exactly this one spelling everywhere. */
export const STORE_PROVIDERS = ['cloudinary', 'imagekit', 'local'] as const;
export type StoreProvider = (typeof STORE_PROVIDERS)[number];
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

/** The aspect ratios Gemini's image models accept and this service offers. */
export const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '4:3', '3:4'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];
