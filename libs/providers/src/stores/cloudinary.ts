import http from 'node:http';
import https from 'node:https';
import type { StoredMedia } from '@mediaflow/domain';
import { v2 as cloudinary, type UploadApiErrorResponse, type UploadApiResponse } from 'cloudinary';
import { ProviderError, providerErrorFromNetwork, providerErrorFromStatus } from '../errors.ts';
import { dimensionsOf, type MediaStore, type PromoteRequest, type UploadRequest } from './media-store.ts';

const PROVIDER = 'cloudinary';
/** Cloudinary refuses single requests over 100 MB: videos from disk go up in chunks of this size. */
const CHUNK_BYTES = 20 * 1024 * 1024;

export interface CloudinaryStoreOptions {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  /** Another API base (CLOUDINARY_URL's upload_prefix), such as a local fake. */
  uploadPrefix: string | undefined;
  timeoutMs: number;
}

type Callback = (error: UploadApiErrorResponse | Error | undefined, response?: UploadApiResponse) => void;

/**
 * Cloudinary through its official SDK. Credentials go with each call rather than into the SDK's global
 * config, and so does an agent of the right protocol: the SDK picks http or https once, at load time,
 * from the environment, which would break an http upload_prefix set any later (see provider notes).
 */
export class CloudinaryStore implements MediaStore {
  readonly name = 'cloudinary';
  readonly provider = PROVIDER;
  private readonly options: CloudinaryStoreOptions;
  private readonly agent: http.Agent;

  constructor(options: CloudinaryStoreOptions) {
    this.options = options;
    this.agent = options.uploadPrefix?.startsWith('http:')
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({ keepAlive: true });
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const options = {
      ...this.callOptions(),
      resource_type: request.resourceType,
      folder: request.folder,
      public_id: request.publicId,
      overwrite: true,
      // Uploads keep the bytes they were sent with; a generated image is stored as JPEG at best quality.
      ...(request.quality === 'best' ? { format: request.format, quality: 'auto:best' } : {}),
    };
    const { source } = request;
    const response = await this.call((done) => {
      if (Buffer.isBuffer(source)) cloudinary.uploader.upload_stream(options, done).end(source);
      else if (request.resourceType === 'video')
        cloudinary.uploader.upload_large(source.path, { ...options, chunk_size: CHUNK_BYTES }, done);
      else cloudinary.uploader.upload(source.path, options, done);
    });
    return toStoredMedia(response);
  }

  async promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    const target = `${request.folder}/${request.publicId}`;
    if (source.provider !== 'cloudinary' || request.copy) {
      // Cloudinary fetches the file from the source's URL itself: nothing passes through this process.
      const response = await this.call((done) =>
        cloudinary.uploader.upload(
          source.url,
          {
            ...this.callOptions(),
            resource_type: source.resourceType,
            folder: request.folder,
            public_id: request.publicId,
            overwrite: true,
          },
          done,
        ),
      );
      return { ...dimensionsOf(source), ...toStoredMedia(response) };
    }
    try {
      const response = await this.call((done) =>
        cloudinary.uploader.rename(
          source.providerId,
          target,
          { ...this.callOptions(), resource_type: source.resourceType, overwrite: true },
          done,
        ),
      );
      return { ...dimensionsOf(source), ...toStoredMedia(response) };
    } catch (error) {
      // An attempt that died after the move left the file at its destination: find it there.
      if (error instanceof ProviderError && error.status === 404) {
        const moved = await this.findAt(source, target);
        if (moved) return moved;
      }
      throw error;
    }
  }

  async delete(media: StoredMedia): Promise<void> {
    await this.call((done) =>
      cloudinary.uploader.destroy(
        media.providerId,
        { ...this.callOptions(), resource_type: media.resourceType, invalidate: true },
        done,
      ),
    );
  }

  private callOptions() {
    const { cloudName, apiKey, apiSecret, uploadPrefix, timeoutMs } = this.options;
    return {
      cloud_name: cloudName,
      api_key: apiKey,
      api_secret: apiSecret,
      ...(uploadPrefix ? { upload_prefix: uploadPrefix } : {}),
      agent: this.agent,
      timeout: timeoutMs,
      // The callback is the one result; an unobserved promise rejection would crash the process.
      disable_promises: true,
    };
  }

  private call(start: (done: Callback) => void): Promise<UploadApiResponse> {
    return new Promise((resolve, reject) => {
      start((error, response) => {
        if (error || !response) reject(toProviderError(error, this.options.timeoutMs));
        else resolve(response);
      });
    });
  }

  /** The delivery URL of `publicId`, if it serves: same host and type as the source, no version. */
  private async findAt(source: StoredMedia, publicId: string): Promise<StoredMedia | undefined> {
    const url = source.url.replace(/\/upload\/.*$/, `/upload/${publicId}.${source.format}`);
    const response = await fetch(url, { method: 'HEAD' }).catch(() => undefined);
    if (!response?.ok) return undefined;
    return {
      ...source,
      providerId: publicId,
      url,
      bytes: Number(response.headers.get('content-length') ?? source.bytes),
    };
  }
}

function toStoredMedia(response: UploadApiResponse): StoredMedia {
  return {
    provider: PROVIDER,
    providerId: response.public_id,
    url: response.secure_url,
    bytes: response.bytes,
    resourceType: response.resource_type === 'video' ? 'video' : 'image',
    format: response.format,
    ...(response.width ? { width: response.width } : {}),
    ...(response.height ? { height: response.height } : {}),
    ...(typeof response.duration === 'number' ? { duration: response.duration } : {}),
  };
}

/** The SDK rejects with plain objects ({ message, http_code }) for HTTP errors and with Errors for network ones. */
function toProviderError(error: UploadApiErrorResponse | Error | undefined, timeoutMs: number): ProviderError {
  if (error === undefined) {
    return new ProviderError({
      provider: PROVIDER,
      code: 'provider_unavailable',
      retryable: true,
      message: 'Cloudinary answered with no result',
    });
  }
  if (error instanceof Error || typeof error.http_code !== 'number')
    return providerErrorFromNetwork(PROVIDER, error, timeoutMs);
  // 499 is the SDK's own code for its request timeout.
  if (error.http_code === 499) return providerErrorFromStatus(PROVIDER, 408, error.message, error);
  return providerErrorFromStatus(PROVIDER, error.http_code, error.message, error);
}
