import { randomBytes } from 'node:crypto';
import type { GeneratedAssetsRepository } from '@mediaflow/db';
import { FOLDERS, type StoredMedia } from '@mediaflow/domain';
import { generatedImageMedia, type MediaKind, type MediaStore } from '@mediaflow/providers';
import { HttpError } from './errors.ts';
import type { ServiceLog } from './log.ts';

/** A file a client sent, on local disk (and already checked: its kind from its bytes, its size, its pixels). */
export interface LocalFile {
  /** The form field it came in. */
  field: string;
  /** The client's name for it: shown in job steps, never used in a storage path. */
  clientName: string;
  path: string;
  kind: MediaKind;
  width?: number;
  height?: number;
}

/** A submission's media item, ready for the storage worker: where it is now, and whether to move it. */
export interface MediaSource {
  source: StoredMedia;
  /** A generated asset already promoted elsewhere is copied, not moved. */
  copy: boolean;
  assetId?: string;
  label: string;
}

export interface MediaIntakeDeps {
  store: Pick<MediaStore, 'upload' | 'delete'>;
  assets: Pick<GeneratedAssetsRepository, 'findForOwner'>;
  log: ServiceLog;
}

/** Turns a submission's files and asset ids into temporary stored media the storage worker can promote. */
export class MediaIntake {
  private readonly store: MediaIntakeDeps['store'];
  private readonly assets: MediaIntakeDeps['assets'];
  private readonly log: ServiceLog;

  constructor(deps: MediaIntakeDeps) {
    this.store = deps.store;
    this.assets = deps.assets;
    this.log = deps.log;
  }

  /** The caller's own generated assets; another user's, or a deleted one, is not found. */
  async resolveAssets(ids: string[], ownerId: string): Promise<Map<string, MediaSource>> {
    const found = new Map<string, MediaSource>();
    for (const id of new Set(ids)) {
      const asset = await this.assets.findForOwner(id, ownerId);
      if (!asset) throw new HttpError(404, 'not_found', `no generated asset ${id}`);
      found.set(id, {
        source: generatedImageMedia(asset),
        copy: asset.promotedAt !== null,
        assetId: asset.id,
        label: `generated asset ${asset.id}`,
      });
    }
    return found;
  }

  /**
   * Uploads local files to the store's temporary folder, one at a time so memory stays flat. If one
   * fails, those already uploaded are removed and the client hears 503: nothing stays stored.
   */
  async uploadTemporary(files: LocalFile[]): Promise<MediaSource[]> {
    const uploaded: MediaSource[] = [];
    try {
      for (const file of files) {
        const stored = await this.store.upload({
          source: { path: file.path },
          folder: FOLDERS.uploads,
          publicId: `upload-${Date.now()}-${randomBytes(4).toString('hex')}`,
          format: file.kind.format,
          resourceType: file.kind.resourceType,
        });
        const { width, height } = file;
        uploaded.push({
          source: { width, height, ...stored },
          copy: false,
          label: `${file.field} ${file.clientName}`.trim(),
        });
      }
      return uploaded;
    } catch (error) {
      this.log.error({ err: error }, 'could not upload a submission file to temporary storage');
      await this.discard(uploaded);
      throw new HttpError(
        503,
        'service_unavailable',
        'media storage is unavailable; nothing was saved, try again shortly',
      );
    }
  }

  /** Removes temporary uploads of a submission that was not accepted after all. */
  async discard(uploaded: MediaSource[]): Promise<void> {
    for (const { source } of uploaded) {
      await this.store
        .delete(source)
        .catch((error: unknown) =>
          this.log.warn({ err: error, providerId: source.providerId }, 'could not remove a temporary upload'),
        );
    }
  }
}
