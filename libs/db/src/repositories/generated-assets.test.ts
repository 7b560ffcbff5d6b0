import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { GeneratedAssetsRepository } from './generated-assets.ts';

const HOUR = 60 * 60 * 1000;

describe('GeneratedAssetsRepository', () => {
  let database: TestDatabase;
  let assets: GeneratedAssetsRepository;
  const owner = 'alice';
  beforeAll(async () => {
    database = await createTestDatabase();
    assets = new GeneratedAssetsRepository(database.db);
    await database.db
      .insertInto('users')
      .values([{ id: owner }, { id: 'bob' }])
      .execute();
  });
  afterAll(() => database.drop());

  async function newJob(ownerId = owner): Promise<string> {
    const id = randomUUID();
    const plan = {
      last: { name: 'generate-image', payload: { jobId: id, ownerId, prompt: 'p', hasReference: false } },
    };
    await database.db
      .insertInto('jobs')
      .values({ id, kind: 'generate-image', ownerId, payload: JSON.stringify(plan) })
      .execute();
    return id;
  }

  /** A generated image in temporary storage, as the generator records it. */
  async function newAsset(options: { expiresAt?: Date | null; ownerId?: string } = {}) {
    const ownerId = options.ownerId ?? owner;
    const jobId = await newJob(ownerId);
    return assets.insert({
      ownerId,
      jobId,
      prompt: 'a fox',
      enhancedPrompt: 'a red fox in the snow, golden hour',
      model: 'gemini-2.5-flash-image',
      aspectRatio: '4:3',
      referenceSha256: null,
      provider: 'local',
      providerId: `ai-generated-images/${jobId}.jpg`,
      url: `http://media.test/ai-generated-images/${jobId}.jpg`,
      width: 1152,
      height: 864,
      bytes: 20480,
      format: 'jpg',
      expiresAt: options.expiresAt === undefined ? new Date(Date.now() + HOUR) : options.expiresAt,
    });
  }

  describe('insert and findByJob', () => {
    it('records a temporary asset and finds it by its job', async () => {
      const expiresAt = new Date(Date.now() + HOUR);
      const asset = await newAsset({ expiresAt });
      expect(asset).toMatchObject({
        ownerId: owner,
        aspectRatio: '4:3',
        provider: 'local',
        width: 1152,
        height: 864,
        bytes: 20480,
        temporary: true,
        expiresAt,
        promotedAt: null,
        deletedAt: null,
      });
      expect(asset.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await assets.findByJob(asset.jobId)).toEqual(asset);
      expect(await assets.findByJob(randomUUID())).toBeUndefined();
    });

    it('refuses a second asset for one job', async () => {
      const asset = await newAsset();
      const { id: _, createdAt: __, updatedAt: ___, ...again } = asset;
      await expect(assets.insert({ ...again, providerId: 'other' })).rejects.toThrow(/duplicate key/);
      expect(await assets.findByJob(asset.jobId)).toEqual(asset);
    });
  });

  describe('findForOwner', () => {
    it("finds the owner's usable asset, and not another user's", async () => {
      const asset = await newAsset();
      expect(await assets.findForOwner(asset.id, owner)).toEqual(asset);
      expect(await assets.findForOwner(asset.id, 'bob')).toBeUndefined();
      expect(await assets.findForOwner(randomUUID(), owner)).toBeUndefined();
    });

    it('does not find an asset past its expiry, nor a deleted one', async () => {
      const expired = await newAsset({ expiresAt: new Date(Date.now() - 1000) });
      expect(await assets.findForOwner(expired.id, owner)).toBeUndefined();
      const deleted = await newAsset();
      expect(await assets.markDeleted(deleted.id)).toBe(true);
      expect(await assets.findForOwner(deleted.id, owner)).toBeUndefined();
    });

    it('finds a promoted asset for good', async () => {
      const asset = await newAsset({ expiresAt: new Date(Date.now() + 1000) });
      await assets.markPromoted(asset.id, {
        provider: 'cloudinary',
        providerId: 'auto/fox',
        url: 'https://res.cloudinary.test/auto/fox.jpg',
      });
      expect(await assets.findForOwner(asset.id, owner)).toMatchObject({ temporary: false, expiresAt: null });
    });
  });

  describe('markPromoted', () => {
    it('moves the record to its permanent place: no longer temporary, never expiring', async () => {
      const asset = await newAsset();
      const before = await assets.findByJob(asset.jobId);
      await assets.markPromoted(asset.id, {
        provider: 'imagekit',
        providerId: 'file_123',
        url: 'https://ik.test/auto/fox.jpg',
      });
      const promoted = await assets.findByJob(asset.jobId);
      expect(promoted).toMatchObject({
        provider: 'imagekit',
        providerId: 'file_123',
        url: 'https://ik.test/auto/fox.jpg',
        temporary: false,
        expiresAt: null,
        deletedAt: null,
        prompt: 'a fox',
      });
      expect(promoted?.promotedAt).toBeInstanceOf(Date);
      expect(promoted?.updatedAt.getTime()).toBeGreaterThanOrEqual(before?.updatedAt.getTime() ?? Infinity);
    });

    it('touches no other asset', async () => {
      const promoted = await newAsset();
      const other = await newAsset();
      await assets.markPromoted(promoted.id, { provider: 'local', providerId: 'auto/x.jpg', url: 'u' });
      expect(await assets.findByJob(other.jobId)).toEqual(other);
    });
  });

  describe('findExpired', () => {
    // The rest of this file's assets expire after 2010 or never: these tests look before that.
    it('finds temporary assets past their expiry that are not deleted, soonest expired first', async () => {
      const second = await newAsset({ expiresAt: new Date('2001-01-02T00:00:00Z') });
      const first = await newAsset({ expiresAt: new Date('2001-01-01T00:00:00Z') });
      const third = await newAsset({ expiresAt: new Date('2001-01-03T00:00:00Z'), ownerId: 'bob' });
      const notYet = await newAsset({ expiresAt: new Date('2001-03-01T00:00:00Z') });
      const deleted = await newAsset({ expiresAt: new Date('2001-01-01T12:00:00Z') });
      await assets.markDeleted(deleted.id);
      const promoted = await newAsset({ expiresAt: new Date('2001-01-01T06:00:00Z') });
      await assets.markPromoted(promoted.id, { provider: 'local', providerId: 'auto/p.jpg', url: 'u' });
      await newAsset({ expiresAt: null });

      const now = new Date('2001-02-01T00:00:00Z');
      expect((await assets.findExpired(now, 10)).map((asset) => asset.id)).toEqual([first.id, second.id, third.id]);
      expect((await assets.findExpired(now, 2)).map((asset) => asset.id)).toEqual([first.id, second.id]);
      expect((await assets.findExpired(new Date('2001-04-01T00:00:00Z'), 10)).map((asset) => asset.id)).toContain(
        notYet.id,
      );
      expect(await assets.findExpired(new Date('2000-12-31T00:00:00Z'), 10)).toEqual([]);
    });
  });

  describe('markDeleted', () => {
    it('marks a temporary asset deleted', async () => {
      const asset = await newAsset({ expiresAt: new Date('2010-01-01T00:00:00Z') });
      expect(await assets.markDeleted(asset.id)).toBe(true);
      const row = await assets.findByJob(asset.jobId);
      expect(row?.deletedAt).toBeInstanceOf(Date);
      expect(row?.temporary).toBe(true);
      expect((await assets.findExpired(new Date('2011-01-01T00:00:00Z'), 100)).map((a) => a.id)).not.toContain(
        asset.id,
      );
    });

    it('leaves a promoted asset alone: promotion won the race', async () => {
      const asset = await newAsset();
      await assets.markPromoted(asset.id, { provider: 'local', providerId: 'auto/kept.jpg', url: 'u' });
      const promoted = await assets.findByJob(asset.jobId);
      expect(await assets.markDeleted(asset.id)).toBe(false);
      expect(await assets.findByJob(asset.jobId)).toEqual(promoted);
      expect(await assets.findForOwner(asset.id, owner)).toBeDefined();
    });

    it('is false for an unknown asset', async () => {
      expect(await assets.markDeleted(randomUUID())).toBe(false);
    });
  });
});
