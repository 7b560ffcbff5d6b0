import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MediaStore, StoredMedia, UploadRequest } from './media-store.ts';

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;

/**
 * LOCAL STAND-IN for Cloudinary and ImageKit, used when neither has credentials: files under MEDIA_DIR
 * in the same folders, served by the gateway at `${PUBLIC_URL}/media/<folder>/<file>`.
 */
export class LocalDiskStore implements MediaStore {
  readonly name = 'local';
  private readonly root: string;
  private readonly publicUrl: string;

  constructor(options: { root: string; publicUrl: string }) {
    this.root = path.resolve(options.root);
    this.publicUrl = options.publicUrl;
  }

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const relative = `${safe(request.folder)}/${safe(request.publicId)}.${request.format}`;
    const target = path.join(this.root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    // Write then rename, so a reader never sees half a file.
    const partial = `${target}.${randomUUID()}.partial`;
    await writeFile(partial, request.data);
    await rename(partial, target);
    return {
      provider: 'local',
      providerId: relative,
      url: `${this.publicUrl}/media/${relative}`,
      bytes: request.data.length,
    };
  }
}

/** Folder and file names come from the service, but a path must never climb out of MEDIA_DIR all the same. */
function safe(segment: string): string {
  if (!SAFE_SEGMENT.test(segment)) throw new Error(`unsafe storage path segment "${segment}"`);
  return segment;
}
