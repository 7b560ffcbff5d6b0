import type { Brand, PostWithMedia } from '@mediaflow/db';
import { encodeCursor } from '@mediaflow/db';
import { describe, expect, it } from 'vitest';
import { Brands } from './brands.ts';
import { Posts } from './posts.ts';
import { FakeBrands } from './test-fakes.ts';

const BRAND = '11111111-1111-4111-8111-111111111111';

describe('Brands', () => {
  it('creates a brand under its trimmed name, and refuses a blank one', async () => {
    const created: Array<[string, string]> = [];
    const brands = new Brands({
      brands: {
        create: async (name, creatorId): Promise<Brand> => {
          created.push([name, creatorId]);
          return { id: BRAND, name };
        },
        listForMember: async () => [],
      },
    });
    expect(await brands.create('alice', '  Harbour Coffee ')).toEqual({ id: BRAND, name: 'Harbour Coffee' });
    await expect(brands.create('alice', ' \t ')).rejects.toMatchObject({
      statusCode: 400,
      message: 'name must not be blank',
    });
    expect(created).toEqual([['Harbour Coffee', 'alice']]);
  });
});

describe('Posts', () => {
  const post = (id: string, createdAt: Date): PostWithMedia => ({
    id,
    brandId: BRAND,
    authorId: 'alice',
    caption: 'hi',
    scheduledAt: null,
    createdAt,
    media: [],
  });
  const rows = [
    post('00000000-0000-4000-8000-000000000002', new Date(2000)),
    post('00000000-0000-4000-8000-000000000001', new Date(1000)),
  ];
  const members = new FakeBrands();
  members.join(BRAND, 'alice');
  const posts = new Posts({
    brands: members,
    posts: {
      findById: async (id) => rows.find((row) => row.id === id),
      listForBrand: async (_brandId, limit) => rows.slice(0, limit),
    },
  });

  it("shows a brand's posts to its members only, before looking at the cursor", async () => {
    await expect(posts.list('mallory', BRAND, { cursor: 'garbage', limit: 2 })).rejects.toMatchObject({
      statusCode: 404,
      message: `no brand ${BRAND}`,
    });
    await expect(posts.list('alice', BRAND, { cursor: 'garbage', limit: 2 })).rejects.toMatchObject({
      statusCode: 400,
      message: 'cursor is not one this API handed out',
    });
    await expect(posts.find('mallory', rows[0]?.id ?? '')).rejects.toMatchObject({ statusCode: 404 });
    expect((await posts.find('alice', rows[0]?.id ?? '')).id).toBe(rows[0]?.id);
  });

  it('hands out a cursor after a full page only', async () => {
    const full = await posts.list('alice', BRAND, { limit: 2 });
    expect(full.nextCursor).toBe(encodeCursor(rows[1] as PostWithMedia));
    expect((await posts.list('alice', BRAND, { limit: 3 })).nextCursor).toBeNull();
  });
});
