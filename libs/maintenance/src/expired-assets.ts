import type { GeneratedAssetsRepository } from '@mediaflow/db';
import { generatedImageMedia, type MediaStore } from '@mediaflow/providers';
import { tempAssetsCleaned } from '@mediaflow/telemetry';

const BATCH = 100;

/** Deletes generated images nobody promoted within TEMP_ASSET_TTL from their store, and marks them deleted. */
export async function cleanUpExpiredAssets(deps: {
  assets: GeneratedAssetsRepository;
  store: MediaStore;
}): Promise<number> {
  let deleted = 0;
  for (const asset of await deps.assets.findExpired(new Date(), BATCH)) {
    await deps.store.delete(generatedImageMedia(asset));
    if (await deps.assets.markDeleted(asset.id)) {
      deleted++;
      tempAssetsCleaned.inc({ provider: asset.provider });
    }
  }
  return deleted;
}
