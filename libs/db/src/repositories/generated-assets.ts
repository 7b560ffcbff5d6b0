import type { StoredMedia } from '@mediaflow/domain';
import type { Db } from '../client.ts';
import type { GeneratedAssetRow, NewGeneratedAsset } from '../schema.ts';

export class GeneratedAssetsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async findByJob(jobId: string): Promise<GeneratedAssetRow | undefined> {
    return this.db.selectFrom('generated_assets').selectAll().where('jobId', '=', jobId).executeTakeFirst();
  }

  async insert(asset: NewGeneratedAsset): Promise<GeneratedAssetRow> {
    return this.db.insertInto('generated_assets').values(asset).returningAll().executeTakeFirstOrThrow();
  }

  async findForOwner(id: string, ownerId: string): Promise<GeneratedAssetRow | undefined> {
    return (
      this.db
        .selectFrom('generated_assets')
        .selectAll()
        .where('id', '=', id)
        .where('ownerId', '=', ownerId)
        .where('deletedAt', 'is', null)
        // An expired temporary asset is about to be cleaned up: it can no longer be used.
        .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', new Date())]))
        .executeTakeFirst()
    );
  }

  /** Temporary assets past their expiry that are still in their store. */
  async findExpired(now: Date, limit: number): Promise<GeneratedAssetRow[]> {
    return this.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('temporary', '=', true)
      .where('deletedAt', 'is', null)
      .where('expiresAt', '<', now)
      .orderBy('expiresAt')
      .limit(limit)
      .execute();
  }

  /** Marks a temporary asset deleted; a promoted one (promotion won the race) is left alone. */
  async markDeleted(id: string): Promise<boolean> {
    const now = new Date();
    const row = await this.db
      .updateTable('generated_assets')
      .set({ deletedAt: now, updatedAt: now })
      .where('id', '=', id)
      .where('temporary', '=', true)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The asset now lives at `location` for good: no longer temporary, never cleaned up. */
  async markPromoted(id: string, location: Pick<StoredMedia, 'provider' | 'providerId' | 'url'>): Promise<void> {
    const now = new Date();
    await this.db
      .updateTable('generated_assets')
      .set({
        provider: location.provider,
        providerId: location.providerId,
        url: location.url,
        temporary: false,
        expiresAt: null,
        promotedAt: now,
        updatedAt: now,
      })
      .where('id', '=', id)
      .execute();
  }
}
