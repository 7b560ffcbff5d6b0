import type { ReadStream } from 'node:fs';
import { type DetailedError, defaultOptions, Upload } from 'tus-js-client';
import { MediaflowError, parseRetryAfter } from './errors.ts';

/** What `upload` sends: a Blob or File (browsers and Node), a Buffer or a file's ReadStream (Node). */
export type UploadSource = Blob | Buffer | ReadStream;

export interface UploadOptions {
  /** The file's name: a File's or a ReadStream's own by default, else "upload". */
  filename?: string;
  /** Its media type (image/jpeg, video/mp4, …): a Blob's `type` by default; give it for a Buffer or a stream. */
  filetype?: string;
  /** Bytes per PATCH request; at most this much is sent again after a cut connection. Default 5 MB. */
  chunkSize?: number;
  /** Bytes sent so far, of all of them, as they go. */
  onProgress?: (sent: number, total: number) => void;
  /** Stops the upload and deletes what the server has of it; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface UploadDeps {
  baseUrl: string;
  authorization: () => Promise<string | undefined>;
}

const DEFAULT_CHUNK_SIZE = 5 * 1024 * 1024;
/** After a failed request: at once, then 1 s, 3 s and 5 s later, each time from the server's offset. */
const RETRY_DELAYS = [0, 1_000, 3_000, 5_000];

/**
 * A resumable upload (tus 1.0, POST /api/uploads then PATCH requests of `chunkSize` bytes) with
 * tus-js-client; resolves with the upload's id, which a submission names (`{ uploadId }`). A lost
 * connection is retried from the offset the server has, not from zero. An error answer rejects with a
 * MediaflowError (the gateway's `{error: {code, message}}`); a network failure, once the retries are spent,
 * with a TypeError as fetch's would be (its `cause` is tus-js-client's error).
 */
export function uploadFile(deps: UploadDeps, file: UploadSource, options: UploadOptions = {}): Promise<string> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<string>((resolve, reject) => {
    const upload: Upload = new Upload(file, {
      endpoint: `${deps.baseUrl}/api/uploads`,
      chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
      retryDelays: RETRY_DELAYS,
      // tus-js-client's own rule (no answer, 5xx, 409, 423), and 429: a chunk refused while the user's
      // other uploads hold every MAX_UPLOADS_IN_FLIGHT slot goes again once one finishes.
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        return status === 0 || status >= 500 || [409, 423, 429].includes(status);
      },
      metadata: { filename: options.filename ?? nameOf(file), filetype: options.filetype ?? typeOf(file) },
      // The upload resumes within this call only: nothing is kept in the browser's storage for later.
      storeFingerprintForResuming: false,
      ...(file instanceof Blob && !readsBlobs() ? { fileReader: blobChunks } : {}),
      // Asked before every request, as for the other calls: a long upload may outlive a token.
      onBeforeRequest: async (request) => {
        const authorization = await deps.authorization();
        if (authorization) request.setHeader('Authorization', authorization);
      },
      onProgress: options.onProgress ?? null,
      onSuccess: () => {
        signal?.removeEventListener('abort', abort);
        resolve(upload.url?.split('/').at(-1) ?? '');
      },
      onError: (error) => {
        signal?.removeEventListener('abort', abort);
        reject(errorOf(error));
      },
    });
    const abort = () => {
      reject(signal?.reason);
      // Terminating frees the server's spool now rather than at UPLOAD_TTL; if that fails, the TTL does it.
      upload.abort(true).catch(() => {});
    };
    signal?.addEventListener('abort', abort, { once: true });
    upload.start();
  });
}

/**
 * The gateway's error answer as a MediaflowError; a request that got no answer as a TypeError, like
 * fetch's; anything else (a protocol mix-up, a file that cannot be read) as tus-js-client said it.
 */
function errorOf(error: Error | DetailedError): Error {
  if (!('originalRequest' in error)) return error;
  const response = error.originalResponse;
  if (!response) {
    // In Node the cause is the socket's error; in a browser an XMLHttpRequest event, which says nothing.
    const reason = error.causingError instanceof Error ? `: ${error.causingError.message}` : '';
    return new TypeError(`the upload lost its connection${reason}`, { cause: error });
  }
  if (response.getStatus() < 400) return error;
  let body: unknown = response.getBody();
  try {
    body = JSON.parse(String(body));
  } catch {
    // Not JSON (a proxy's page): MediaflowError keeps the text.
  }
  return MediaflowError.of(response.getStatus(), body, parseRetryAfter(response.getHeader('Retry-After') ?? null));
}

function nameOf(file: UploadSource): string {
  if (typeof File !== 'undefined' && file instanceof File) return file.name;
  if (!(file instanceof Blob) && 'path' in file) return String(file.path).split(/[\\/]/).at(-1) ?? 'upload';
  return 'upload';
}

function typeOf(file: UploadSource): string {
  return file instanceof Blob ? file.type : '';
}

/** tus-js-client's browser build reads Blobs itself (slices, no copy); its Node build only Buffers and streams. */
function readsBlobs(): boolean {
  return defaultOptions.httpStack.getName() !== 'NodeHttpStack';
}

/** A Blob for tus-js-client's Node build: read one chunk at a time into a Buffer, which it sends. */
const blobChunks = {
  async openFile(blob: Blob) {
    return {
      size: blob.size,
      async slice(start: number, end: number) {
        const value = Buffer.from(await blob.slice(start, end).arrayBuffer());
        // Its HTTP stack sets Content-Length from `size`, as for its own Buffer source.
        return { value: Object.assign(value, { size: value.length }), done: end >= blob.size };
      },
      close() {},
    };
  },
};
