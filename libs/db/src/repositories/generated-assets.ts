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
}
