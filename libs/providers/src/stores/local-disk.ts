import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StoredMedia } from '@mediaflow/domain';
import { ProviderError } from '../errors.ts';
import { fileName, type MediaStore, type PromoteRequest, type UploadRequest } from './media-store.ts';

type MediaMeta = Pick<StoredMedia, 'resourceType' | 'format' | 'width' | 'height' | 'duration'>;

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;
const SAFE_FORMAT = /^[a-z0-9]{1,5}$/;

/**
 * LOCAL STAND-IN for Cloudinary and ImageKit, used when neither has credentials: files under MEDIA_DIR
 * in the same folders, served by the gateway at `${PUBLIC_URL}/media/<folder>/<file>`.
 */
export class LocalDiskStore implements MediaStore {
  readonly name = 'local';
  readonly provider = 'local';
  private readonly root: string;
  private readonly publicUrl: string;
  private readonly timeoutMs: number;

  constructor(options: { root: string; publicUrl: string; timeoutMs?: number }) {
    this.root = path.resolve(options.root);
    this.publicUrl = options.publicUrl;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const relative = this.relativePath(request.folder, request.publicId, request.format);
    const target = path.join(this.root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    // Write beside the target, then rename, so a reader never sees half a file.
    const partial = `${target}.${randomUUID()}.partial`;
    if (Buffer.isBuffer(request.source)) await writeFile(partial, request.source);
    else await copyFile(request.source.path, partial);
    await rename(partial, target);
    return this.media(relative, { resourceType: request.resourceType, format: request.format });
  }

  async promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    const relative = this.relativePath(request.folder, request.publicId, source.format);
    const target = path.join(this.root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    if (source.provider === 'local') {
      const from = path.join(this.root, this.checkRelative(source.providerId));
      if (request.copy) await copyFile(from, target);
      else {
        try {
          await rename(from, target);
        } catch (error) {
          // Moved already by an attempt that died before recording it.
          if (!(isMissing(error) && (await exists(target)))) throw error;
        }
      }
    } else {
      await this.download(source.url, target);
    }
    const { resourceType, format, width, height, duration } = source;
    return this.media(relative, { resourceType, format, width, height, duration });
  }

  async delete(media: StoredMedia): Promise<void> {
    await rm(path.join(this.root, this.checkRelative(media.providerId)), { force: true });
  }

  private async download(url: string, target: string): Promise<void> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok || !response.body) {
      throw new ProviderError({
        provider: 'local',
        code: 'provider_unavailable',
        retryable: response.status >= 500,
        status: response.status,
        message: `could not fetch ${url}: ${response.status}`,
      });
    }
    const partial = `${target}.${randomUUID()}.partial`;
    await pipeline(Readable.fromWeb(response.body), createWriteStream(partial));
    await rename(partial, target);
  }

  private async media(relative: string, meta: MediaMeta): Promise<StoredMedia> {
    const { size } = await stat(path.join(this.root, relative));
    return {
      ...meta,
      provider: 'local',
      providerId: relative,
      url: `${this.publicUrl}/media/${relative}`,
      bytes: size,
    };
  }

  /** Folder and file names come from the service, but a path must never climb out of MEDIA_DIR all the same. */
  private relativePath(folder: string, publicId: string, format: string): string {
    for (const segment of [folder, publicId]) {
      if (!SAFE_SEGMENT.test(segment))
        throw unsafePath(
          `unsafe storage path segment "${segment}": a folder or file name must be 1-200 letters, digits, _ or -, starting with a letter or digit`,
        );
    }
    if (!SAFE_FORMAT.test(format))
      throw unsafePath(`unsafe file extension "${format}": it must be 1-5 lowercase letters or digits`);
    return `${folder}/${fileName(publicId, format)}`;
  }

  private checkRelative(relative: string): string {
    const [folder, file, ...rest] = relative.split('/');
    const dot = file?.lastIndexOf('.') ?? -1;
    if (!folder || !file || rest.length > 0 || dot <= 0)
      throw unsafePath(`unsafe storage path "${relative}": a stored file's id must be <folder>/<name>.<extension>`);
    return this.relativePath(folder, file.slice(0, dot), file.slice(dot + 1));
  }
}

/** No retry makes an unsafe path safe: the job fails at once. */
function unsafePath(message: string): ProviderError {
  return new ProviderError({ provider: 'local', code: 'provider_rejected', retryable: false, message });
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
