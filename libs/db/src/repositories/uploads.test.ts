import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { UploadsRepository } from './uploads.ts';

const HOUR = 3_600_000;
const checked = { resourceType: 'video' as const, format: 'mp4', bytes: 1000, width: null, height: null };

describe('UploadsRepository', () => {
  let database: TestDatabase;
  let uploads: UploadsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    uploads = new UploadsRepository(database.db);
    await database.db
      .insertInto('users')
      .values([{ id: 'alice' }, { id: 'bob' }])
      .execute();
  });
  afterAll(() => database.drop());

  async function newUpload(options: { ownerId?: string; expiresAt?: Date; finished?: boolean } = {}) {
    const id = randomBytes(16).toString('hex');
    await uploads.create({
      id,
      ownerId: options.ownerId ?? 'alice',
      filename: 'clip.mp4',
      filetype: 'video/mp4',
      length: 1000,
      expiresAt: options.expiresAt ?? new Date(Date.now() + HOUR),
    });
    if (options.finished !== false) await uploads.markCompleted(id, checked);
    return id;
  }

  it('finds an upload for its owner only', async () => {
    const id = await newUpload();
    expect(await uploads.findForOwner(id, 'alice')).toMatchObject({ id, length: 1000, completedAt: expect.any(Date) });
    expect(await uploads.findForOwner(id, 'bob')).toBeUndefined();
  });

  it('claims finished, unused uploads of the caller once; a release makes them claimable again', async () => {
    const mine = await newUpload();
    const unfinished = await newUpload({ finished: false });
    const theirs = await newUpload({ ownerId: 'bob' });

    const claimed = await uploads.claim([mine, unfinished, theirs], 'alice');
    expect(claimed.map((upload) => upload.id)).toEqual([mine]);
    expect(claimed[0]).toMatchObject({ resourceType: 'video', format: 'mp4', bytes: 1000 });
    expect(await uploads.claim([mine], 'alice')).toEqual([]);

    await uploads.release([mine]);
    expect((await uploads.claim([mine], 'alice')).map((upload) => upload.id)).toEqual([mine]);
  });

  it('two claims of one upload at once: exactly one gets it', async () => {
    const id = await newUpload();
    const results = await Promise.all([uploads.claim([id], 'alice'), uploads.claim([id], 'alice')]);
    expect(results.map((claimed) => claimed.length).sort()).toEqual([0, 1]);
  });

  it('lists expired uploads, used or not, oldest first, and deletes them', async () => {
    const old = await newUpload({ expiresAt: new Date(Date.now() - 2 * HOUR) });
    const older = await newUpload({ expiresAt: new Date(Date.now() - 3 * HOUR), finished: false });
    const fresh = await newUpload();
    const expired = (await uploads.findExpired(new Date(), 100)).map((upload) => upload.id);
    expect(expired.indexOf(older)).toBeLessThan(expired.indexOf(old));
    expect(expired).not.toContain(fresh);
    expect(await uploads.delete(old)).toBe(true);
    expect(await uploads.delete(old)).toBe(false);
  });
});
