import type { Db } from '../client.ts';

export interface Brand {
  id: string;
  name: string;
}

export class BrandsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** A new brand with its creator as its first member. */
  async create(name: string, creatorId: string): Promise<Brand> {
    return this.db.transaction().execute(async (trx) => {
      const brand = await trx
        .insertInto('brands')
        .values({ name, createdBy: creatorId })
        .returning(['id', 'name'])
        .executeTakeFirstOrThrow();
      await trx.insertInto('brand_members').values({ brandId: brand.id, userId: creatorId }).execute();
      return brand;
    });
  }

  async listForMember(userId: string): Promise<Brand[]> {
    return this.db
      .selectFrom('brands')
      .innerJoin('brand_members', 'brand_members.brandId', 'brands.id')
      .select(['brands.id', 'brands.name'])
      .where('brand_members.userId', '=', userId)
      .orderBy('brands.createdAt')
      .orderBy('brands.id')
      .execute();
  }

  async isMember(brandId: string, userId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('brand_members')
      .select('brandId')
      .where('brandId', '=', brandId)
      .where('userId', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }
}
