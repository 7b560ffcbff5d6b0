import { openAsBlob } from 'node:fs';
import ImageKit, { APIConnectionError, APIConnectionTimeoutError, APIError, toFile } from '@imagekit/nodejs';
import type { StoredMedia } from '@mediaflow/domain';
import { ProviderError, providerErrorFromNetwork, providerErrorFromStatus, retryAfterFromHeaders } from '../errors.ts';
import { dimensionsOf, fileName, type MediaStore, type PromoteRequest, type UploadRequest } from './media-store.ts';

const PROVIDER = 'imagekit';

export interface ImageKitStoreOptions {
  privateKey: string;
  /** Another API base (IMAGEKIT_BASE_URL), such as a local fake; it replaces the upload host too. */
  baseUrl: string | undefined;
  timeoutMs: number;
}

interface ImageKitFile {
  fileId?: string;
  url?: string;
  filePath?: string;
  size?: number;
  width?: number;
  height?: number;
  duration?: number;
}

/** ImageKit through the maintained `@imagekit/nodejs` SDK, which itself retries passing failures twice. */
export class ImageKitStore implements MediaStore {
  readonly name = 'imagekit';
  readonly provider = PROVIDER;
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
    const name = fileName(request.publicId, request.format);
    // A bare Buffer would be sent as thousands of fields; a file on disk goes as a disk-backed Blob.
    const file = Buffer.isBuffer(request.source)
      ? await toFile(request.source, name)
      : await toFile(await openAsBlob(request.source.path), name);
    const result = await this.call(() =>
      this.client.files.upload({ file, fileName: name, folder: `/${request.folder}/`, useUniqueFileName: false }),
    );
    return toStoredMedia(result, request.resourceType, request.format);
  }

  async promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    if (source.provider === 'imagekit' && !request.copy && source.path) {
      const destinationPath = `/${request.folder}/`;
      try {
        await this.call(() => this.client.files.move({ sourceFilePath: source.path ?? '', destinationPath }));
      } catch (error) {
        // An attempt that died after the move left the file at its destination: that is success.
        if (!isNotFound(error)) throw error;
      }
      const moved = await this.call(() => this.client.files.get(source.providerId));
      if (!moved.filePath?.startsWith(destinationPath)) {
        // The move reported success but the file is elsewhere: ImageKit's side; trying again may move it.
        throw new ProviderError({
          provider: PROVIDER,
          code: 'provider_unavailable',
          retryable: true,
          message: `ImageKit did not move ${source.path} to ${destinationPath} (the file is at ${moved.filePath ?? 'an unknown path'})`,
        });
      }
      return { ...dimensionsOf(source), ...toStoredMedia(moved, source.resourceType, source.format) };
    }
    // ImageKit fetches the file from the source's URL itself: nothing passes through this process.
    const result = await this.call(() =>
      this.client.files.upload({
        file: source.url,
        fileName: fileName(request.publicId, source.format),
        folder: `/${request.folder}/`,
        useUniqueFileName: false,
      }),
    );
    return { ...dimensionsOf(source), ...toStoredMedia(result, source.resourceType, source.format) };
  }

  async delete(media: StoredMedia): Promise<void> {
    try {
      await this.call(() => this.client.files.delete(media.providerId));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async call<T>(request: () => PromiseLike<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof APIConnectionTimeoutError)
        throw providerErrorFromStatus(PROVIDER, 408, error.message, error);
      if (error instanceof APIConnectionError) throw providerErrorFromNetwork(PROVIDER, error, this.timeoutMs);
      if (error instanceof APIError && error.status !== undefined)
        throw providerErrorFromStatus(
          PROVIDER,
          error.status,
          error.message,
          error,
          retryAfterFromHeaders(error.headers as Headers | undefined),
        );
      throw error;
    }
  }
}

function toStoredMedia(file: ImageKitFile, resourceType: StoredMedia['resourceType'], format: string): StoredMedia {
  if (!file.fileId || !file.url) {
    // A malformed answer is ImageKit's fault and may pass (a hiccup on its side), so the job may try again.
    throw new ProviderError({
      provider: PROVIDER,
      code: 'provider_unavailable',
      retryable: true,
      message: 'ImageKit answered without fileId or url',
    });
  }
  return {
    provider: PROVIDER,
    providerId: file.fileId,
    url: file.url,
    bytes: file.size ?? 0,
    resourceType,
    format,
    ...(file.filePath ? { path: file.filePath } : {}),
    ...(file.width ? { width: file.width } : {}),
    ...(file.height ? { height: file.height } : {}),
    ...(file.duration ? { duration: file.duration } : {}),
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof ProviderError && error.status === 404;
}
