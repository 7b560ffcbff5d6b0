import type { GeneratedAssetsRepository } from '@mediaflow/db';
import type { PromoteMediaPayload, StoredMedia } from '@mediaflow/domain';
import type { MediaStore } from '@mediaflow/providers';

export interface StorageDeps {
  store: MediaStore;
  assets: Pick<GeneratedAssetsRepository, 'markPromoted'>;
}

/**
 * Temporary → permanent: a server-side move when the file already sits in the store that takes it,
 * otherwise that store fetches it from its URL. Repeating it after a crash finds the moved file.
 */
export async function promoteMedia(payload: PromoteMediaPayload, deps: StorageDeps): Promise<StoredMedia> {
  const promoted = await deps.store.promote(payload.source, {
    folder: payload.folder,
    publicId: payload.publicId,
    copy: payload.copy,
  });
  if (payload.assetId && !payload.copy) await deps.assets.markPromoted(payload.assetId, promoted);
  return promoted;
}
