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
    return this.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('id', '=', id)
      .where('ownerId', '=', ownerId)
      .where('deletedAt', 'is', null)
      .executeTakeFirst();
  }

  /** The asset now lives at `location` for good: no longer temporary, never cleaned up. */
  async markPromoted(id: string, location: { provider: string; providerId: string; url: string }): Promise<void> {
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
