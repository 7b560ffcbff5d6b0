import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { BrandsRepository } from './brands.ts';

describe('BrandsRepository', () => {
  let database: TestDatabase;
  let brands: BrandsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    brands = new BrandsRepository(database.db);
  });
  afterAll(() => database.drop());

  async function newUser(): Promise<string> {
    const id = `user-${randomUUID()}`;
    await database.db.insertInto('users').values({ id }).execute();
    return id;
  }

  it('creates a brand with its creator as its first and only member', async () => {
    const creator = await newUser();
    const other = await newUser();
    const brand = await brands.create('Acme', creator);
    expect(brand).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'Acme' });
    expect(await brands.isMember(brand.id, creator)).toBe(true);
    expect(await brands.isMember(brand.id, other)).toBe(false);
    const row = await database.db
      .selectFrom('brands')
      .select(['name', 'createdBy'])
      .where('id', '=', brand.id)
      .executeTakeFirst();
    expect(row).toEqual({ name: 'Acme', createdBy: creator });
    const members = await database.db
      .selectFrom('brand_members')
      .select('userId')
      .where('brandId', '=', brand.id)
      .execute();
    expect(members).toEqual([{ userId: creator }]);
  });

  it('writes no brand for a creator who is not a user', async () => {
    const name = `Ghost ${randomUUID()}`;
    await expect(brands.create(name, `nobody-${randomUUID()}`)).rejects.toThrow(/foreign key/);
    expect(await database.db.selectFrom('brands').select('id').where('name', '=', name).execute()).toEqual([]);
  });

  it('lists the brands a user is a member of, oldest first, and only those', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const zeta = await brands.create('Zeta', alice);
    const bobs = await brands.create('Bobs', bob);
    const alpha = await brands.create('Alpha', alice);
    expect(await brands.listForMember(alice)).toEqual([zeta, alpha]);
    expect(await brands.listForMember(bob)).toEqual([bobs]);

    await database.db.insertInto('brand_members').values({ brandId: bobs.id, userId: alice }).execute();
    expect(await brands.listForMember(alice)).toEqual([zeta, bobs, alpha]);
    expect(await brands.isMember(bobs.id, alice)).toBe(true);
    expect(await brands.isMember(zeta.id, bob)).toBe(false);
  });

  it('lists nothing for a user of no brand, and knows no member of an unknown brand', async () => {
    const loner = await newUser();
    expect(await brands.listForMember(loner)).toEqual([]);
    expect(await brands.isMember(randomUUID(), loner)).toBe(false);
  });
});
