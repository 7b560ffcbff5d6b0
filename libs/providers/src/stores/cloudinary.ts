import http from 'node:http';
import https from 'node:https';
import { v2 as cloudinary, type UploadApiErrorResponse, type UploadApiResponse } from 'cloudinary';
import { ProviderError, providerErrorFromNetwork, providerErrorFromStatus } from '../errors.ts';
import type { MediaStore, StoredMedia, UploadRequest } from './media-store.ts';

const PROVIDER = 'Cloudinary';

export interface CloudinaryStoreOptions {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  /** Another API base (CLOUDINARY_URL's upload_prefix), such as a local fake. */
  uploadPrefix: string | undefined;
  timeoutMs: number;
}

/**
 * Cloudinary through its official SDK. Credentials go with each call rather than into the SDK's global
 * config, and so does an agent of the right protocol: the SDK picks http or https once, at load time,
 * from the environment, which would break an http upload_prefix set any later (see provider notes).
 */
export class CloudinaryStore implements MediaStore {
  readonly name = 'cloudinary';
  private readonly options: CloudinaryStoreOptions;
  private readonly agent: http.Agent;

  constructor(options: CloudinaryStoreOptions) {
    this.options = options;
    this.agent = options.uploadPrefix?.startsWith('http:')
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({ keepAlive: true });
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const { cloudName, apiKey, apiSecret, uploadPrefix, timeoutMs } = this.options;
    const result = await new Promise<UploadApiResponse>((resolve, reject) => {
      const stream = cloudinary.uploader.upload_stream(
        {
          cloud_name: cloudName,
          api_key: apiKey,
          api_secret: apiSecret,
          ...(uploadPrefix ? { upload_prefix: uploadPrefix } : {}),
          agent: this.agent,
          timeout: timeoutMs,
          // The callback is the one result; an unobserved promise rejection would crash the process.
          disable_promises: true,
          resource_type: 'image',
          folder: request.folder,
          public_id: request.publicId,
          format: request.format,
          quality: 'auto:best',
          overwrite: true,
        },
        (error, response) => {
          if (error || !response) reject(toProviderError(error, timeoutMs));
          else resolve(response);
        },
      );
      stream.end(request.data);
    });
    return { provider: 'cloudinary', providerId: result.public_id, url: result.secure_url, bytes: result.bytes };
  }
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
