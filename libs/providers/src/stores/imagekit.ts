import ImageKit, { APIConnectionError, APIConnectionTimeoutError, APIError, toFile } from '@imagekit/nodejs';
import { providerErrorFromNetwork, providerErrorFromStatus } from '../errors.ts';
import type { MediaStore, StoredMedia, UploadRequest } from './media-store.ts';

const PROVIDER = 'ImageKit';

export interface ImageKitStoreOptions {
  privateKey: string;
  /** Another API base (IMAGEKIT_BASE_URL), such as a local fake; it replaces the upload host too. */
  baseUrl: string | undefined;
  timeoutMs: number;
}

/** ImageKit through the maintained `@imagekit/nodejs` SDK, which itself retries passing failures twice. */
export class ImageKitStore implements MediaStore {
  readonly name = 'imagekit';
  private readonly client: ImageKit;
  private readonly timeoutMs: number;

  constructor(options: ImageKitStoreOptions) {
    this.timeoutMs = options.timeoutMs;
    this.client = new ImageKit({
      privateKey: options.privateKey,
      timeout: options.timeoutMs,
      ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    });
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const fileName = `${request.publicId}.${request.format}`;
    try {
      const result = await this.client.files.upload({
        // A bare Buffer would be sent as thousands of fields: wrap it (provider notes).
        file: await toFile(request.data, fileName),
        fileName,
        folder: `/${request.folder}/`,
        useUniqueFileName: false,
      });
      if (!result.fileId || !result.url) throw new Error('ImageKit answered without fileId or url');
      return {
        provider: 'imagekit',
        providerId: result.fileId,
        url: result.url,
        bytes: result.size ?? request.data.length,
      };
    } catch (error) {
      if (error instanceof APIConnectionTimeoutError)
        throw providerErrorFromStatus(PROVIDER, 408, error.message, error);
      if (error instanceof APIConnectionError) throw providerErrorFromNetwork(PROVIDER, error, this.timeoutMs);
      if (error instanceof APIError && error.status !== undefined)
        throw providerErrorFromStatus(PROVIDER, error.status, error.message, error);
      throw error;
    }
  }
}
