import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IDEMPOTENCY_KEY_TIMES, IdempotencyKeysRepository, JobsRepository } from '@mediaflow/db';
import { createTestDatabase, type TestDatabase } from '@mediaflow/db/testing';
import type { JobKind, JobRequest, StoredMedia } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { LocalDiskStore, type MediaStore } from '@mediaflow/providers';
import { registry } from '@mediaflow/telemetry';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  deleteEndedJobInputs,
  deleteExpiredIdempotencyKeys,
  deleteFailedSubmissionUploads,
  sweepSpool,
} from './retention.ts';

const TTL_MS = 24 * 3_600_000;
const HOUR_MS = 3_600_000;

/** What mediaflow_retention_deleted_total{kind} reads now. */
async function counted(kind: string): Promise<number> {
  const metric = await registry.getSingleMetric('mediaflow_retention_deleted_total')?.get();
  return metric?.values.find((value) => value.labels.kind === kind)?.value ?? 0;
}

/** A file the gateway put in the uploads folder for a submission. */
const upload = (name: string): StoredMedia => ({
  provider: 'local',
  providerId: `uploads/${name}.jpg`,
  url: `http://media.test/media/uploads/${name}.jpg`,
  bytes: 3,
  resourceType: 'image',
  format: 'jpg',
});

/** A promote-media step of a submission's chain. */
const promote = (jobId: string, step: number, source: StoredMedia, extra: { copy?: boolean; assetId?: string } = {}) =>
  ({
    name: 'promote-media',
    payload: {
      jobId,
      step,
      source,
      folder: 'auto',
      publicId: `p-${step}`,
      copy: extra.copy ?? false,
      ...(extra.assetId ? { assetId: extra.assetId } : {}),
    },
  }) satisfies JobRequest;

/** A store that records what it is asked to delete, and fails every delete while `down`. */
class FakeStore implements Pick<MediaStore, 'delete'> {
  deleted: string[] = [];
  down = false;
  async delete(media: StoredMedia): Promise<void> {
    if (this.down) throw new Error('store unavailable');
    this.deleted.push(media.providerId);
  }
}

describe('retention', () => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  let owner: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    jobs = new JobsRepository(database.db);
  });
  afterAll(() => database.drop());
  // Each kind looks at the whole database: each test starts from an empty one.
  beforeEach(async () => {
    await sql`truncate users cascade`.execute(database.db);
    owner = `user-${randomUUID()}`;
    await database.db.insertInto('users').values({ id: owner }).execute();
  });

  describe('job_inputs', () => {
    /** A generation with a reference image, left in `status`. */
    async function generation(status: 'queued' | 'completed' | 'failed'): Promise<string> {
      const id = randomUUID();
      await jobs.create({
        id,
        kind: 'generate-image',
        ownerId: owner,
        plan: {
          last: { name: 'generate-image', payload: { jobId: id, ownerId: owner, prompt: 'p', hasReference: true } },
        },
        inputs: [{ name: 'referenceImage', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }],
      });
      const result = {
        assetId: randomUUID(),
        url: 'http://media.test/a.jpg',
        provider: 'local',
        width: 1,
        height: 1,
        aspectRatio: '1:1',
        format: 'jpg',
      } as const;
      if (status === 'completed') await jobs.markCompleted({ jobId: id }, result);
      if (status === 'failed')
        await jobs.markFailed({ jobId: id }, { code: 'internal', message: 'x', retryable: false });
      return id;
    }
    const inputsOf = (ids: string[]) =>
      database.db.selectFrom('job_inputs').select('jobId').where('jobId', 'in', ids).execute();

    it("deletes every ended job's inputs, in batches, and keeps a live job's", async () => {
      // More than one batch (100) of ended jobs.
      const completed = [];
      for (let i = 0; i < 120; i++) completed.push(await generation('completed'));
      const failed = await generation('failed');
      const live = await generation('queued');
      const before = await counted('job_inputs');

      expect(await deleteEndedJobInputs({ jobs })).toBe(121);
      expect(await inputsOf([...completed, failed])).toEqual([]);
      expect(await inputsOf([live])).toEqual([{ jobId: live }]);
      expect(await counted('job_inputs')).toBe(before + 121);

      expect(await deleteEndedJobInputs({ jobs })).toBe(0);
      expect(await counted('job_inputs')).toBe(before + 121);
    });
  });

  describe('idempotency_keys', () => {
    it('deletes keys past their 24 h, answered or not, in batches, and keeps fresh ones', async () => {
      const keys = new IdempotencyKeysRepository(database.db, IDEMPOTENCY_KEY_TIMES);
      // More than one batch (1000) of expired keys.
      const expired = Array.from({ length: 1001 }, (_, i) => ({
        userId: owner,
        key: `old-${i}`,
        requestHash: 'h',
        status: i % 2 === 0 ? 202 : null,
        createdAt: new Date(Date.now() - IDEMPOTENCY_KEY_TIMES.lifetimeMs - 60_000),
      }));
      await database.db.insertInto('idempotency_keys').values(expired).execute();
      expect(await keys.claim(owner, 'fresh', 'h')).toEqual({ kind: 'claimed' });
      const before = await counted('idempotency_keys');

      expect(await deleteExpiredIdempotencyKeys({ keys })).toBe(1001);
      const left = await database.db.selectFrom('idempotency_keys').select('key').execute();
      expect(left).toEqual([{ key: 'fresh' }]);
      expect(await counted('idempotency_keys')).toBe(before + 1001);

      expect(await deleteExpiredIdempotencyKeys({ keys })).toBe(0);
      expect(await counted('idempotency_keys')).toBe(before + 1001);
    });
  });

  describe('upload_objects', () => {
    /**
     * A submission with these promote-media steps (then its persist step), failed `failedAgoMs` ago
     * (or left queued without it), whose steps in `completedSteps` completed.
     */
    async function submission(options: {
      kind?: JobKind;
      first: (jobId: string) => JobRequest[];
      completedSteps?: number[];
      failedAgoMs?: number;
    }): Promise<string> {
      const id = randomUUID();
      const first = options.first(id);
      const persistStep = first.length;
      await jobs.create({
        id,
        kind: options.kind ?? 'submit-post',
        ownerId: owner,
        plan: {
          first,
          last: {
            name: 'persist-post',
            payload: {
              jobId: id,
              step: persistStep,
              authorId: owner,
              brandId: randomUUID(),
              caption: 'c',
              scheduledAt: null,
              mediaSteps: [],
            },
          },
        },
        steps: [
          ...first.map((_, step) => ({ step, kind: 'promote-media' as const, label: `media[${step}]` })),
          { step: persistStep, kind: 'persist-post', label: 'write post' },
        ],
      });
      for (const step of options.completedSteps ?? []) {
        await jobs.markCompleted({ jobId: id, step }, upload(`moved-${step}`));
      }
      if (options.failedAgoMs !== undefined) {
        await jobs.markFailed({ jobId: id, step: persistStep }, { code: 'internal', message: 'x', retryable: false });
        await database.db
          .updateTable('jobs')
          .set({ finishedAt: new Date(Date.now() - options.failedAgoMs) })
          .where('id', '=', id)
          .execute();
      }
      return id;
    }
    const cleaned = async (id: string) => {
      const { rows } = await sql<{ cleaned: boolean }>`
        select "stagedUploadsCleanedAt" is not null as cleaned from jobs where id = ${id}`.execute(database.db);
      return rows[0]?.cleaned;
    };

    it("deletes a failed submission's uploads once TEMP_ASSET_TTL has passed, and nothing else", async () => {
      const post = await submission({
        failedAgoMs: TTL_MS + HOUR_MS,
        first: (id) => [
          promote(id, 0, upload('post-0')),
          // Completed: its file was moved already.
          promote(id, 1, upload('post-1')),
          // Generated assets: the expired-assets cleanup looks after them.
          promote(id, 2, upload('asset-moved'), { assetId: randomUUID() }),
          promote(id, 3, upload('asset-copied'), { copy: true, assetId: randomUUID() }),
        ],
        completedSteps: [1],
      });
      const blog = await submission({
        kind: 'submit-blog',
        failedAgoMs: TTL_MS + HOUR_MS,
        first: (id) => [promote(id, 0, upload('blog-0'))],
      });
      const recent = await submission({
        failedAgoMs: TTL_MS - HOUR_MS,
        first: (id) => [promote(id, 0, upload('recent'))],
      });
      const live = await submission({ first: (id) => [promote(id, 0, upload('live'))] });
      // Failed long ago, then run again by an admin: no longer failed.
      const requeued = await submission({
        failedAgoMs: TTL_MS + HOUR_MS,
        first: (id) => [promote(id, 0, upload('requeued'))],
      });
      await jobs.resetForRetry(requeued);
      const store = new FakeStore();
      const before = await counted('upload_objects');

      const deps = { jobs, store, logger: silentLogger };
      expect(await deleteFailedSubmissionUploads(deps, TTL_MS)).toBe(2);
      expect(store.deleted.sort()).toEqual(['uploads/blog-0.jpg', 'uploads/post-0.jpg']);
      expect(await counted('upload_objects')).toBe(before + 2);
      expect(await cleaned(post)).toBe(true);
      expect(await cleaned(blog)).toBe(true);
      for (const kept of [recent, live, requeued]) expect(await cleaned(kept)).toBe(false);

      store.deleted = [];
      expect(await deleteFailedSubmissionUploads(deps, TTL_MS)).toBe(0);
      expect(store.deleted).toEqual([]);
      expect(await counted('upload_objects')).toBe(before + 2);
    });

    it('leaves a job whose store is down for the next round', async () => {
      const id = await submission({
        failedAgoMs: TTL_MS + HOUR_MS,
        first: (jobId) => [promote(jobId, 0, upload('f'))],
      });
      const store = new FakeStore();
      store.down = true;
      const deps = { jobs, store, logger: silentLogger };
      const before = await counted('upload_objects');

      expect(await deleteFailedSubmissionUploads(deps, TTL_MS)).toBe(0);
      expect(await cleaned(id)).toBe(false);
      expect(await counted('upload_objects')).toBe(before);

      store.down = false;
      expect(await deleteFailedSubmissionUploads(deps, TTL_MS)).toBe(1);
      expect(store.deleted).toEqual(['uploads/f.jpg']);
      expect(await cleaned(id)).toBe(true);
      expect(await counted('upload_objects')).toBe(before + 1);
    });

    it('counts a file already gone from the local disk store as deleted', async () => {
      const root = await mkdtemp(path.join(tmpdir(), 'retention-store-'));
      try {
        const store = new LocalDiskStore({ root, publicUrl: 'http://media.test' });
        const there = await store.upload({
          source: Buffer.from('jpg'),
          folder: 'uploads',
          publicId: 'there',
          format: 'jpg',
          resourceType: 'image',
        });
        const id = await submission({
          failedAgoMs: TTL_MS + HOUR_MS,
          first: (jobId) => [promote(jobId, 0, there), promote(jobId, 1, upload('gone'))],
        });

        expect(await deleteFailedSubmissionUploads({ jobs, store, logger: silentLogger }, TTL_MS)).toBe(2);
        expect(await readdir(path.join(root, 'uploads'))).toEqual([]);
        expect(await cleaned(id)).toBe(true);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });
});

describe('sweepSpool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'retention-spool-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A file in the spool, last written `agoMs` ago. */
  async function spoolFile(name: string, agoMs: number): Promise<void> {
    const file = path.join(dir, name);
    await writeFile(file, 'x');
    const when = new Date(Date.now() - agoMs);
    await utimes(file, when, when);
  }

  it('deletes the files older than the longest request, not fresh ones, nor what is in subfolders', async () => {
    await spoolFile('old-1', 2 * HOUR_MS);
    await spoolFile('old-2', HOUR_MS + 1_000);
    await spoolFile('fresh', 60_000);
    await mkdir(path.join(dir, 'tus'));
    await spoolFile(path.join('tus', 'old-upload'), 2 * HOUR_MS);
    const before = await counted('spool_files');

    expect(await sweepSpool({ dir, olderThanMs: HOUR_MS })).toBe(2);
    expect((await readdir(dir)).sort()).toEqual(['fresh', 'tus']);
    expect(await readdir(path.join(dir, 'tus'))).toEqual(['old-upload']);
    expect(await counted('spool_files')).toBe(before + 2);

    expect(await sweepSpool({ dir, olderThanMs: HOUR_MS })).toBe(0);
    expect(await counted('spool_files')).toBe(before + 2);
  });

  it('finds nothing to delete in a folder that does not exist', async () => {
    expect(await sweepSpool({ dir: path.join(dir, 'missing'), olderThanMs: HOUR_MS })).toBe(0);
  });
});
