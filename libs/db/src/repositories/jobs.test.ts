import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../client.ts';
import type { Database } from '../schema.ts';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { IdempotencyKeyTaken } from './idempotency-keys.ts';
import { InFlightCapReached, JobsRepository, type NewJobRecord } from './jobs.ts';

/** A generation's plan, as the gateway writes it. */
const generationPlan = (jobId: string, ownerId: string, prompt = 'p', hasReference = false) => ({
  last: { name: 'generate-image' as const, payload: { jobId, ownerId, prompt, hasReference } },
});

/** A post submission's plan: its promote-media steps come first, the persist-post step last. */
const postPlan = (jobId: string, ownerId: string, persistStep: number) => ({
  last: {
    name: 'persist-post' as const,
    payload: {
      jobId,
      step: persistStep,
      authorId: ownerId,
      brandId: randomUUID(),
      caption: 'hello',
      scheduledAt: null,
      mediaSteps: Array.from({ length: persistStep }, (_, step) => step),
    },
  },
});

/** A blog submission's plan: its content in `record`, out of the queued requests. */
const blogPlan = (jobId: string, ownerId: string, persistStep: number, content = 'c') => ({
  last: {
    name: 'persist-blog' as const,
    payload: {
      jobId,
      step: persistStep,
      authorId: ownerId,
      title: 't',
      imageAlt: null,
      bannerStep: persistStep > 0 ? 0 : null,
      featuredStep: persistStep > 1 ? 1 : null,
    },
  },
  record: { content },
});

/** What a finished generation answers. */
const generated = () =>
  ({
    assetId: randomUUID(),
    url: 'http://media.test/ai-generated-images/a.jpg',
    provider: 'local',
    width: 1024,
    height: 1024,
    aspectRatio: '1:1',
    format: 'jpg',
  }) as const;

/** What a promote-media step answers: the file in its permanent folder. */
const stored = (name: string) =>
  ({
    provider: 'local',
    providerId: `auto/${name}`,
    url: `http://media.test/auto/${name}`,
    bytes: 100 + name.length,
    resourceType: 'image',
    format: 'jpg',
  }) as const;

describe('JobsRepository', () => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    jobs = new JobsRepository(database.db);
  });
  afterAll(() => database.drop());

  /** A user of its own for each test: counts and listings see only that test's jobs. */
  async function newOwner(): Promise<string> {
    const id = `user-${randomUUID()}`;
    await database.db.insertInto('users').values({ id }).execute();
    return id;
  }

  /** A generation job, as the gateway accepts one. */
  async function createGeneration(ownerId: string, prompt = 'p'): Promise<string> {
    const id = randomUUID();
    await jobs.create({ id, kind: 'generate-image', ownerId, plan: generationPlan(id, ownerId, prompt) });
    return id;
  }

  /** A post submission: one promote-media step a label, then the persist-post step. */
  async function createSubmission(ownerId: string, mediaLabels: string[]): Promise<string> {
    const id = randomUUID();
    const persistStep = mediaLabels.length;
    await jobs.create({
      id,
      kind: 'submit-post',
      ownerId,
      plan: postPlan(id, ownerId, persistStep),
      steps: [
        ...mediaLabels.map((label, step) => ({ step, kind: 'promote-media' as const, label })),
        { step: persistStep, kind: 'persist-post', label: 'write post' },
      ],
    });
    return id;
  }

  async function claimKey(userId: string, key: string): Promise<void> {
    await database.db.insertInto('idempotency_keys').values({ userId, key, requestHash: 'h' }).execute();
  }

  const job = async (id: string) => {
    const row = await jobs.findById(id);
    if (!row) throw new Error(`job ${id} has no row`);
    return row;
  };
  const steps = async (jobId: string) =>
    database.db
      .selectFrom('job_steps')
      .select(['step', 'kind', 'label', 'state', 'attempts', 'result', 'error'])
      .where('jobId', '=', jobId)
      .orderBy('step')
      .execute();
  const answers = async (userId: string) =>
    database.db
      .selectFrom('idempotency_keys')
      .select(['key', 'status', 'response'])
      .where('userId', '=', userId)
      .orderBy('key')
      .execute();

  describe('create', () => {
    it('writes a queued job with its plan under its id', async () => {
      const owner = await newOwner();
      const id = await createGeneration(owner, 'a red fox');
      const row = await job(id);
      expect(row).toMatchObject({
        id,
        kind: 'generate-image',
        ownerId: owner,
        status: 'queued',
        attempts: 0,
        result: null,
        error: null,
        finishedAt: null,
      });
      expect(row.payload).toEqual({
        last: {
          name: 'generate-image',
          payload: { jobId: id, ownerId: owner, prompt: 'a red fox', hasReference: false },
        },
      });
      expect(await jobs.findById(randomUUID())).toBeUndefined();
    });

    it('stores the inputs with the job', async () => {
      const owner = await newOwner();
      const id = randomUUID();
      const data = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01, 0x02]);
      await jobs.create({
        id,
        kind: 'generate-image',
        ownerId: owner,
        plan: generationPlan(id, owner, 'p', true),
        inputs: [{ name: 'referenceImage', contentType: 'image/jpeg', sha256: 'abc123', data }],
      });
      const input = await jobs.findInput(id, 'referenceImage');
      expect(input).toEqual({ name: 'referenceImage', contentType: 'image/jpeg', sha256: 'abc123', data });
      expect(Buffer.isBuffer(input?.data)).toBe(true);
      expect(await jobs.findInput(id, 'other')).toBeUndefined();
      expect(await jobs.findInput(await createGeneration(owner), 'referenceImage')).toBeUndefined();
    });

    it('writes the steps, queued, and a poll shows them in order', async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] clip.mp4']);
      const found = await jobs.findForOwner(id, owner);
      expect(found).toMatchObject({ id, kind: 'submit-post', status: 'queued' });
      expect(found?.steps).toEqual([
        { step: 0, kind: 'promote-media', label: 'media[0] a.jpg', state: 'queued', attempts: 0, error: null },
        { step: 1, kind: 'promote-media', label: 'media[1] clip.mp4', state: 'queued', attempts: 0, error: null },
        { step: 2, kind: 'persist-post', label: 'write post', state: 'queued', attempts: 0, error: null },
      ]);
    });

    it('keeps the answer under its Idempotency-Key in the same write, with or without steps', async () => {
      const owner = await newOwner();
      await claimKey(owner, 'k-single');
      await claimKey(owner, 'k-steps');
      await claimKey(owner, 'k-untouched');
      const single = randomUUID();
      await jobs.create(
        { id: single, kind: 'generate-image', ownerId: owner, plan: generationPlan(single, owner) },
        { userId: owner, key: 'k-single', status: 202, response: { jobId: single, status: 'queued' } },
      );
      const withSteps = randomUUID();
      await jobs.create(
        {
          id: withSteps,
          kind: 'submit-blog',
          ownerId: owner,
          plan: blogPlan(withSteps, owner, 0),
          steps: [{ step: 0, kind: 'persist-blog', label: 'write blog' }],
        },
        { userId: owner, key: 'k-steps', status: 202, response: { jobId: withSteps, status: 'queued' } },
      );
      expect(await answers(owner)).toEqual([
        { key: 'k-single', status: 202, response: { jobId: single, status: 'queued' } },
        { key: 'k-steps', status: 202, response: { jobId: withSteps, status: 'queued' } },
        { key: 'k-untouched', status: null, response: null },
      ]);
      expect(await job(single)).toMatchObject({ kind: 'generate-image', status: 'queued' });
      expect(await job(withSteps)).toMatchObject({ kind: 'submit-blog', status: 'queued' });
    });

    it('writes no answer when the job cannot be written', async () => {
      const owner = await newOwner();
      await claimKey(owner, 'k');
      const taken = await createGeneration(owner);
      const again = jobs.create(
        { id: taken, kind: 'generate-image', ownerId: owner, plan: generationPlan(taken, owner, 'again') },
        { userId: owner, key: 'k', status: 202, response: { jobId: taken } },
      );
      await expect(again).rejects.toThrow(/duplicate key/);
      expect(await answers(owner)).toEqual([{ key: 'k', status: null, response: null }]);
      expect((await job(taken)).payload).toEqual(generationPlan(taken, owner, 'p'));
    });

    it('writes nothing of a job whose steps cannot be written', async () => {
      const owner = await newOwner();
      await claimKey(owner, 'k');
      const id = randomUUID();
      const attempt = jobs.create(
        {
          id,
          kind: 'submit-post',
          ownerId: owner,
          plan: postPlan(id, owner, 0),
          inputs: [{ name: 'upload', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }],
          steps: [
            { step: 0, kind: 'persist-post', label: 'write post' },
            { step: 0, kind: 'persist-post', label: 'write post again' },
          ],
        },
        { userId: owner, key: 'k', status: 202, response: { jobId: id } },
      );
      await expect(attempt).rejects.toThrow(/duplicate key/);
      expect(await jobs.findById(id)).toBeUndefined();
      expect(await jobs.findInput(id, 'upload')).toBeUndefined();
      expect(await answers(owner)).toEqual([{ key: 'k', status: null, response: null }]);
    });
  });

  describe('create with an in-flight cap', () => {
    /** A generation under a cap; `reference` sends it down the transaction path (a job input). */
    const capped = (ownerId: string, cap: number, options: { reference?: boolean } = {}): NewJobRecord => {
      const id = randomUUID();
      return {
        id,
        kind: 'generate-image',
        ownerId,
        plan: generationPlan(id, ownerId, 'p', options.reference ?? false),
        inFlightCap: cap,
        ...(options.reference
          ? { inputs: [{ name: 'referenceImage', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }] }
          : {}),
      };
    };
    /** Resolves to the job's id, or to 'refused' for InFlightCapReached. */
    const attempt = (record: NewJobRecord, repository = jobs) =>
      repository.create(record).then(
        () => record.id,
        (error: unknown) => {
          if (error instanceof InFlightCapReached) return 'refused' as const;
          throw error;
        },
      );
    const slots = async (ownerId: string) => {
      const { rows } = await sql<{ slot: number | null }>`
        select "inFlightSlot" as slot from jobs where "ownerId" = ${ownerId} and status in ('queued', 'active')
        order by slot`.execute(database.db);
      return rows.map((row) => row.slot);
    };

    it('lets exactly `cap` of many concurrent requests in, per owner', async () => {
      // A pool of its own, so that the ten requests really run at the same time.
      const db = createDb(database.url, { maxConnections: 10 });
      try {
        const racing = new JobsRepository(db);
        const owner = await newOwner();
        const other = await newOwner();
        const outcomes = await Promise.all([
          ...Array.from({ length: 10 }, () => attempt(capped(owner, 3), racing)),
          ...Array.from({ length: 2 }, () => attempt(capped(other, 3), racing)),
        ]);
        const mine = outcomes.slice(0, 10);
        expect(mine.filter((outcome) => outcome === 'refused')).toHaveLength(7);
        expect(await jobs.countUnfinished(owner, 'generate-image')).toBe(3);
        expect(await slots(owner)).toEqual([0, 1, 2]);
        for (const id of mine.filter((outcome) => outcome !== 'refused')) {
          expect(await job(id)).toMatchObject({ ownerId: owner, status: 'queued' });
        }
        expect(outcomes.slice(10)).not.toContain('refused');
        expect(await slots(other)).toEqual([0, 1]);
      } finally {
        await db.destroy();
      }
    });

    it('tries again when a concurrent request took the slot it picked', async () => {
      for (const cap of [2, 1]) {
        const owner = await newOwner();
        // A first request takes slot 0 and holds its commit until the second is waiting on the index.
        let commit = () => {};
        const held = new Promise<void>((resolve) => {
          commit = resolve;
        });
        let inserted = () => {};
        const insertedFirst = new Promise<void>((resolve) => {
          inserted = resolve;
        });
        const first = capped(owner, cap);
        const firstDone = database.db.transaction().execute(async (trx) => {
          await new JobsRepository(trx).create(first);
          inserted();
          await held;
        });
        await insertedFirst;
        const second = attempt(capped(owner, cap));
        await expect.poll(() => waitingOnLocks(), { timeout: 10_000 }).toBeGreaterThan(0);
        commit();
        await firstDone;
        const outcome = await second;
        if (cap === 2) {
          expect(outcome).not.toBe('refused');
          expect(await slots(owner)).toEqual([0, 1]);
        } else {
          expect(outcome).toBe('refused');
          expect(await slots(owner)).toEqual([0]);
        }
        expect(await jobs.countUnfinished(owner, 'generate-image')).toBe(cap);
      }
    });

    it('frees the slot of a job that has ended', async () => {
      const owner = await newOwner();
      const a = await attempt(capped(owner, 2));
      const b = await attempt(capped(owner, 2));
      expect(await attempt(capped(owner, 2))).toBe('refused');

      await jobs.markActive({ jobId: a });
      await jobs.markCompleted({ jobId: a }, generated());
      const c = await attempt(capped(owner, 2));
      expect(c).not.toBe('refused');
      expect(await attempt(capped(owner, 2))).toBe('refused');

      await jobs.markFailed({ jobId: b }, { code: 'internal', message: 'x', retryable: false });
      expect(await attempt(capped(owner, 2))).not.toBe('refused');
      expect(await attempt(capped(owner, 2))).toBe('refused');
      expect(await slots(owner)).toEqual([0, 1]);

      // A retried job never collides with the job that took its slot: it runs outside the cap.
      await jobs.delete(c);
      expect(await attempt(capped(owner, 2))).not.toBe('refused');
      await jobs.resetForRetry(b);
      expect(await job(b)).toMatchObject({ status: 'queued' });
      expect(await slots(owner)).toEqual([0, 1, null]);
      expect(await attempt(capped(owner, 2))).toBe('refused');
    });

    it('takes the lowest free slot, a gap between held ones first', async () => {
      const owner = await newOwner();
      await attempt(capped(owner, 5));
      const middle = await attempt(capped(owner, 5));
      await attempt(capped(owner, 5));
      await jobs.markActive({ jobId: middle });
      await jobs.markCompleted({ jobId: middle }, generated());
      expect(await slots(owner)).toEqual([0, 2]);
      await attempt(capped(owner, 5));
      expect(await slots(owner)).toEqual([0, 1, 2]);
      await attempt(capped(owner, 5));
      await attempt(capped(owner, 5));
      expect(await slots(owner)).toEqual([0, 1, 2, 3, 4]);
      expect(await attempt(capped(owner, 5))).toBe('refused');
    });

    it('writes neither the job nor its answer when refused, on either path', async () => {
      const owner = await newOwner();
      await claimKey(owner, 'k-accepted');
      await claimKey(owner, 'k-single');
      await claimKey(owner, 'k-reference');
      const accepted = capped(owner, 1, { reference: true });
      await jobs.create(accepted, { userId: owner, key: 'k-accepted', status: 202, response: { jobId: accepted.id } });

      const single = capped(owner, 1);
      const refusedSingle = jobs.create(single, { userId: owner, key: 'k-single', status: 202, response: {} });
      await expect(refusedSingle).rejects.toBeInstanceOf(InFlightCapReached);
      const reference = capped(owner, 1, { reference: true });
      const refusedReference = jobs.create(reference, { userId: owner, key: 'k-reference', status: 202, response: {} });
      await expect(refusedReference).rejects.toMatchObject({ ownerId: owner, kind: 'generate-image', cap: 1 });

      expect(await answers(owner)).toEqual([
        { key: 'k-accepted', status: 202, response: { jobId: accepted.id } },
        { key: 'k-reference', status: null, response: null },
        { key: 'k-single', status: null, response: null },
      ]);
      expect(await jobs.findById(single.id)).toBeUndefined();
      expect(await jobs.findById(reference.id)).toBeUndefined();
      expect(await jobs.findInput(reference.id, 'referenceImage')).toBeUndefined();
      expect(await jobs.findInput(accepted.id, 'referenceImage')).toMatchObject({ name: 'referenceImage' });
      expect(await jobs.countUnfinished(owner, 'generate-image')).toBe(1);
    });

    it('holds the cap across both paths: with and without inputs', async () => {
      const owner = await newOwner();
      const db = createDb(database.url, { maxConnections: 10 });
      try {
        const racing = new JobsRepository(db);
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => attempt(capped(owner, 2, { reference: i % 2 === 0 }), racing)),
        );
        expect(outcomes.filter((outcome) => outcome !== 'refused')).toHaveLength(2);
        expect(await slots(owner)).toEqual([0, 1]);
      } finally {
        await db.destroy();
      }
      expect(await attempt(capped(owner, 3, { reference: true }))).not.toBe('refused');
      expect(await attempt(capped(owner, 3, { reference: true }))).toBe('refused');
      expect(await slots(owner)).toEqual([0, 1, 2]);
    });

    it('leaves jobs of other kinds, and jobs written without a cap, out of the count', async () => {
      const owner = await newOwner();
      await createSubmission(owner, ['media[0] a.jpg']);
      await createGeneration(owner);
      expect(await attempt(capped(owner, 1))).not.toBe('refused');
      expect(await attempt(capped(owner, 1))).toBe('refused');
    });

    /** Statements of this test database waiting for a lock (the second insert, on the unique index). */
    async function waitingOnLocks(): Promise<number> {
      const { rows } = await sql<{ count: string }>`
        select count(*) as count from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`.execute(database.db);
      return Number(rows[0]?.count ?? 0);
    }
  });

  describe('create claiming the key with the answer (requestHash)', () => {
    const claiming = (userId: string, key: string, response: unknown) => ({
      userId,
      key,
      status: 202,
      response,
      requestHash: `hash-${key}`,
    });
    /** A generation without inputs (one statement), under `cap` when given. */
    const generation = (id: string, owner: string, cap?: number): NewJobRecord => ({
      id,
      kind: 'generate-image',
      ownerId: owner,
      plan: generationPlan(id, owner, 'p'),
      ...(cap === undefined ? {} : { inFlightCap: cap }),
    });
    const withReference = (id: string, owner: string): NewJobRecord => ({
      id,
      kind: 'generate-image',
      ownerId: owner,
      plan: generationPlan(id, owner, 'p', true),
      inputs: [{ name: 'referenceImage', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }],
    });

    it("writes the key, its fingerprint and the answer in the job's commit, on either path", async () => {
      const owner = await newOwner();
      const single = randomUUID();
      await jobs.create(generation(single, owner), claiming(owner, 'k1', { jobId: single }));
      const reference = randomUUID();
      await jobs.create(withReference(reference, owner), claiming(owner, 'k2', { jobId: reference }));
      expect(await answers(owner)).toEqual([
        { key: 'k1', status: 202, response: { jobId: single } },
        { key: 'k2', status: 202, response: { jobId: reference } },
      ]);
      const hashes = await database.db
        .selectFrom('idempotency_keys')
        .select('requestHash')
        .where('userId', '=', owner)
        .orderBy('key')
        .execute();
      expect(hashes.map((row) => row.requestHash)).toEqual(['hash-k1', 'hash-k2']);
      expect((await job(single)).status).toBe('queued');
      expect(await jobs.findInput(reference, 'referenceImage')).toBeDefined();
    });

    it('writes nothing and throws IdempotencyKeyTaken when the key is there, on either path', async () => {
      const owner = await newOwner();
      await claimKey(owner, 'k1');
      const single = randomUUID();
      const refused = jobs.create(generation(single, owner, 5), claiming(owner, 'k1', { jobId: single }));
      await expect(refused).rejects.toBeInstanceOf(IdempotencyKeyTaken);
      const reference = randomUUID();
      await expect(jobs.create(withReference(reference, owner), claiming(owner, 'k1', {}))).rejects.toBeInstanceOf(
        IdempotencyKeyTaken,
      );
      expect(await jobs.findById(single)).toBeUndefined();
      expect(await jobs.findById(reference)).toBeUndefined();
      expect(await answers(owner)).toEqual([{ key: 'k1', status: null, response: null }]);
    });

    it('claims no key for a job refused for its cap', async () => {
      const owner = await newOwner();
      const first = randomUUID();
      await jobs.create(generation(first, owner, 1), claiming(owner, 'k1', {}));
      const second = randomUUID();
      const refused = jobs.create(generation(second, owner, 1), claiming(owner, 'k2', {}));
      await expect(refused).rejects.toBeInstanceOf(InFlightCapReached);
      expect((await answers(owner)).map((row) => row.key)).toEqual(['k1']);
    });

    it('lets one of two racing requests with one key write its job', async () => {
      const owner = await newOwner();
      const db = createDb(database.url, { maxConnections: 4 });
      try {
        const racing = new JobsRepository(db);
        const ids = [randomUUID(), randomUUID(), randomUUID()];
        const outcomes = await Promise.allSettled(
          ids.map((id) =>
            racing.create(
              { id, kind: 'generate-image', ownerId: owner, plan: generationPlan(id, owner, 'p') },
              claiming(owner, 'same', { jobId: id }),
            ),
          ),
        );
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(IdempotencyKeyTaken);
        }
        const written = await database.db.selectFrom('jobs').select('id').where('ownerId', '=', owner).execute();
        expect(written).toHaveLength(1);
        expect(await answers(owner)).toEqual([{ key: 'same', status: 202, response: { jobId: written[0]?.id } }]);
      } finally {
        await db.destroy();
      }
    });

    it('delete with the answer undoes both the job and its key', async () => {
      const owner = await newOwner();
      const id = randomUUID();
      await jobs.create(
        { id, kind: 'generate-image', ownerId: owner, plan: generationPlan(id, owner, 'p') },
        claiming(owner, 'k1', { jobId: id }),
      );
      await claimKey(owner, 'other');
      await jobs.delete(id, { userId: owner, key: 'k1' });
      expect(await jobs.findById(id)).toBeUndefined();
      expect((await answers(owner)).map((row) => row.key)).toEqual(['other']);
    });
  });

  describe('findForOwner', () => {
    it("answers undefined for another user's job and for an unknown id", async () => {
      const owner = await newOwner();
      const other = await newOwner();
      const id = await createGeneration(owner);
      expect(await jobs.findForOwner(id, other)).toBeUndefined();
      expect(await jobs.findForOwner(randomUUID(), owner)).toBeUndefined();
      expect(await jobs.findForOwner(id, owner)).toMatchObject({ id, ownerId: owner, steps: [] });
    });

    it('orders steps by number whatever order they were written in', async () => {
      const owner = await newOwner();
      const id = randomUUID();
      await jobs.create({
        id,
        kind: 'submit-blog',
        ownerId: owner,
        plan: blogPlan(id, owner, 2),
        steps: [
          { step: 2, kind: 'persist-blog', label: 'write blog' },
          { step: 0, kind: 'promote-media', label: 'banner' },
          { step: 1, kind: 'promote-media', label: 'featured image' },
        ],
      });
      const found = await jobs.findForOwner(id, owner);
      expect(found?.steps.map((step) => [step.step, step.kind, step.label])).toEqual([
        [0, 'promote-media', 'banner'],
        [1, 'promote-media', 'featured image'],
        [2, 'persist-blog', 'write blog'],
      ]);
      expect(found?.kind).toBe('submit-blog');
    });
  });

  describe('markActive', () => {
    it('is false for a job that has no row', async () => {
      expect(await jobs.markActive({ jobId: randomUUID() })).toBe('ended');
      expect(await jobs.markActive({ jobId: randomUUID(), step: 0 })).toBe('ended');
    });

    it('makes the job active and counts each attempt', async () => {
      const id = await createGeneration(await newOwner());
      expect(await jobs.markActive({ jobId: id })).toBe('started');
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 1 });
      expect(await jobs.markActive({ jobId: id })).toBe('started');
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 2 });
    });

    it('counts attempts on the job and on the step, and leaves the other steps alone', async () => {
      const id = await createSubmission(await newOwner(), ['media[0] a.jpg', 'media[1] b.jpg']);
      expect(await jobs.markActive({ jobId: id, step: 0 })).toBe('started');
      expect(await jobs.markActive({ jobId: id, step: 0 })).toBe('started');
      expect(await jobs.markActive({ jobId: id, step: 1 })).toBe('started');
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 3 });
      expect((await steps(id)).map(({ step, state, attempts }) => ({ step, state, attempts }))).toEqual([
        { step: 0, state: 'active', attempts: 2 },
        { step: 1, state: 'active', attempts: 1 },
        { step: 2, state: 'queued', attempts: 0 },
      ]);
    });

    it("records a step's start, and a job's, in one statement (one round trip)", async () => {
      const statements: string[] = [];
      const pool = new pg.Pool({ connectionString: database.url, max: 1 });
      const logged = new Kysely<Database>({
        dialect: new PostgresDialect({ pool }),
        log: (event) => {
          statements.push(event.query.sql);
        },
      });
      try {
        const id = await createSubmission(await newOwner(), ['media[0] a.jpg']);
        const generation = await createGeneration(await newOwner());
        const counted = new JobsRepository(logged);
        expect(await counted.markActive({ jobId: id, step: 0 })).toBe('started');
        expect(statements).toHaveLength(1);
        expect(await counted.markActive({ jobId: generation })).toBe('started');
        expect(statements).toHaveLength(2);
        expect((await steps(id))[0]).toMatchObject({ state: 'active', attempts: 1 });
        expect(await job(generation)).toMatchObject({ status: 'active', attempts: 1 });
      } finally {
        await logged.destroy();
      }
    });

    it('says completed for a job that has completed, ended for one that failed, and counts no attempt', async () => {
      const owner = await newOwner();
      const completed = await createGeneration(owner);
      await jobs.markActive({ jobId: completed });
      await jobs.markCompleted({ jobId: completed }, generated());
      const failed = await createGeneration(owner);
      await jobs.markFailed({ jobId: failed }, { code: 'invalid_input', message: 'no', retryable: false });

      expect(await jobs.markActive({ jobId: completed })).toBe('completed');
      expect(await jobs.markActive({ jobId: failed })).toBe('ended');
      expect(await job(completed)).toMatchObject({ status: 'completed', attempts: 1 });
      expect(await job(failed)).toMatchObject({ status: 'failed', attempts: 0 });
    });

    it('leaves the steps of a job that has ended as they were', async () => {
      // A sibling step failed and failed the job; this step's attempt starts afterwards and does nothing.
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] b.jpg']);
      await jobs.markActive({ jobId: id, step: 0 });
      await jobs.markFailed({ jobId: id, step: 0 }, { code: 'provider_rejected', message: 'no', retryable: false });
      expect(await jobs.markActive({ jobId: id, step: 1 })).toBe('ended');
      expect((await jobs.findForOwner(id, owner))?.steps[1]).toMatchObject({ state: 'queued', attempts: 0 });
      expect(await job(id)).toMatchObject({ status: 'failed', attempts: 1 });
    });
  });

  describe('markWaiting', () => {
    const note = { code: 'dependency_unavailable' as const, message: 'waiting for the database', retryable: true };

    it('puts a started job back to queued with its note, taking back the attempt its start counted', async () => {
      const owner = await newOwner();
      const id = await createGeneration(owner);
      await jobs.markActive({ jobId: id });
      await jobs.markWaiting({ jobId: id }, note, { since: new Date(), uncount: true });
      expect(await job(id)).toMatchObject({ status: 'queued', attempts: 0, error: note });
    });

    it('leaves the count alone when the start was never recorded', async () => {
      const owner = await newOwner();
      const id = await createGeneration(owner);
      await jobs.markWaiting({ jobId: id }, note, { since: new Date(), uncount: false });
      expect(await job(id)).toMatchObject({ status: 'queued', attempts: 0, error: note });
    });

    it('counts a row written within the millisecond of `since` as not moved since (PostgreSQL keeps microseconds)', async () => {
      const owner = await newOwner();
      const id = await createGeneration(owner);
      await sql`update jobs set "updatedAt" = '2024-03-01T00:00:00.123456Z' where id = ${id}`.execute(database.db);
      await jobs.markWaiting({ jobId: id }, note, { since: new Date('2024-03-01T00:00:00.123Z'), uncount: false });
      expect(await job(id)).toMatchObject({ status: 'queued', error: note });
    });

    it('changes nothing when another run has picked the job up since, or it has ended', async () => {
      const owner = await newOwner();
      const moved = await createGeneration(owner);
      const since = new Date(Date.now() - 60_000);
      await jobs.markActive({ jobId: moved });
      await jobs.markWaiting({ jobId: moved }, note, { since, uncount: true });
      expect(await job(moved)).toMatchObject({ status: 'active', attempts: 1, error: null });

      const ended = await createGeneration(owner);
      await jobs.markActive({ jobId: ended });
      await jobs.markCompleted({ jobId: ended }, generated());
      await jobs.markWaiting({ jobId: ended }, note, { since: new Date(), uncount: true });
      expect(await job(ended)).toMatchObject({ status: 'completed', attempts: 1 });
    });

    it('puts a step back, with its note, and takes its attempt back from the step and the job', async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] b.jpg']);
      await jobs.markActive({ jobId: id, step: 0 });
      await jobs.markActive({ jobId: id, step: 1 });
      await jobs.markWaiting({ jobId: id, step: 0 }, note, { since: new Date(), uncount: true });
      const found = await jobs.findForOwner(id, owner);
      expect(found?.steps[0]).toMatchObject({ state: 'queued', attempts: 0, error: note });
      expect(found?.steps[1]).toMatchObject({ state: 'active', attempts: 1 });
      expect(found).toMatchObject({ status: 'active', attempts: 1 });
    });
  });

  describe('ping', () => {
    it('answers while the database does', async () => {
      await expect(jobs.ping()).resolves.toBeUndefined();
    });
  });

  describe('markCompleted', () => {
    it('completes a job without steps with its result, clearing the error of an earlier attempt', async () => {
      const id = await createGeneration(await newOwner());
      await jobs.markActive({ jobId: id });
      await jobs.markRetrying({ jobId: id }, { code: 'provider_timeout', message: 'slow', retryable: true });
      const result = generated();
      const before = Date.now();
      await jobs.markCompleted({ jobId: id }, result);
      const row = await job(id);
      expect(row).toMatchObject({ status: 'completed', result, error: null });
      // The server's clock and this process's may differ a little.
      expect(Math.abs((row.finishedAt?.getTime() ?? 0) - before)).toBeLessThan(60_000);
    });

    it('completes a job with steps only once every step has, with the last result', async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] b.jpg']);

      await jobs.markActive({ jobId: id, step: 1 });
      await jobs.markCompleted({ jobId: id, step: 1 }, stored('b.jpg'));
      await jobs.markActive({ jobId: id, step: 0 });
      expect((await jobs.markCompleted({ jobId: id, step: 0 }, stored('a.jpg'))).jobCompleted).toBe(false);
      let row = await job(id);
      expect(row).toMatchObject({ status: 'active', result: null, finishedAt: null });

      const written = { postId: randomUUID(), media: [{ id: randomUUID(), url: 'u', type: 'image' as const }] };
      await jobs.markActive({ jobId: id, step: 2 });
      expect((await jobs.markCompleted({ jobId: id, step: 2 }, written)).jobCompleted).toBe(true);
      row = await job(id);
      expect(row).toMatchObject({ status: 'completed', result: written, error: null });
      expect(row.finishedAt).toBeInstanceOf(Date);
      expect((await steps(id)).map(({ state, result }) => ({ state, result }))).toEqual([
        { state: 'completed', result: stored('a.jpg') },
        { state: 'completed', result: stored('b.jpg') },
        { state: 'completed', result: written },
      ]);
      expect((await jobs.findForOwner(id, owner))?.steps.map((step) => step.state)).toEqual([
        'completed',
        'completed',
        'completed',
      ]);
    });

    it("clears a step's error from an earlier attempt", async () => {
      const id = await createSubmission(await newOwner(), ['media[0] a.jpg']);
      await jobs.markRetrying({ jobId: id, step: 0 }, { code: 'provider_timeout', message: 'slow', retryable: true });
      await jobs.markCompleted({ jobId: id, step: 0 }, stored('a.jpg'));
      expect((await steps(id))[0]).toMatchObject({ state: 'completed', error: null, result: stored('a.jpg') });
      expect((await job(id)).status).toBe('queued');
    });
  });

  describe('completeInCommit', () => {
    const written = { postId: randomUUID(), media: [] };
    /** A row `work` writes, to see whether it committed. */
    const userExists = async (id: string) =>
      (await database.db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    /** The submission's promote steps completed, as the flow runs its last step only then. */
    async function promoted(id: string, count: number): Promise<void> {
      for (let step = 0; step < count; step++) {
        await jobs.markActive({ jobId: id, step });
        await jobs.markCompleted({ jobId: id, step }, stored(`${step}.jpg`));
      }
    }

    it("commits the work with the step's start and end and the job's, counting the attempt once", async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg']);
      await promoted(id, 1);
      const user = `user-${randomUUID()}`;
      const commit = await jobs.completeInCommit({ jobId: id, step: 1 }, async (trx) => {
        await trx.insertInto('users').values({ id: user }).execute();
        return written;
      });
      expect(commit).toEqual({ start: 'started', result: written, completion: { jobCompleted: true, deliveries: [] } });
      expect(await userExists(user)).toBe(true);
      expect(await job(id)).toMatchObject({ status: 'completed', result: written, attempts: 2 });
      expect((await steps(id))[1]).toMatchObject({ state: 'completed', result: written, attempts: 1, error: null });
    });

    it('writes nothing of an attempt whose work throws; its failure is then recorded with the attempt counted', async () => {
      const id = await createSubmission(await newOwner(), ['media[0] a.jpg']);
      await promoted(id, 1);
      const user = `user-${randomUUID()}`;
      const failing = jobs.completeInCommit({ jobId: id, step: 1 }, async (trx) => {
        await trx.insertInto('users').values({ id: user }).execute();
        throw new Error('the brand is gone');
      });
      await expect(failing).rejects.toThrow('the brand is gone');
      expect(await userExists(user)).toBe(false);
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 1 });
      expect((await steps(id))[1]).toMatchObject({ state: 'queued', attempts: 0 });

      const error = { code: 'internal' as const, message: 'x', retryable: true };
      await jobs.markRetrying({ jobId: id, step: 1 }, error, { countAttempt: true });
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 2 });
      expect((await steps(id))[1]).toMatchObject({ state: 'queued', attempts: 1, error });
      await jobs.markFailed({ jobId: id, step: 1 }, error, { countAttempt: true });
      expect(await job(id)).toMatchObject({ status: 'failed', attempts: 3 });
      expect((await steps(id))[1]).toMatchObject({ state: 'failed', attempts: 2 });
    });

    it('runs no work for a job that has completed or failed, and says which', async () => {
      const owner = await newOwner();
      const done = await createGeneration(owner);
      await jobs.markCompleted({ jobId: done }, generated());
      const failed = await createGeneration(owner);
      await jobs.markFailed({ jobId: failed }, { code: 'internal', message: 'x', retryable: false });
      let ran = 0;
      const work = async () => {
        ran += 1;
        return generated();
      };
      expect(await jobs.completeInCommit({ jobId: done }, work)).toEqual({ start: 'completed' });
      expect(await jobs.completeInCommit({ jobId: failed }, work)).toEqual({ start: 'ended' });
      expect(await jobs.completeInCommit({ jobId: randomUUID() }, work)).toEqual({ start: 'ended' });
      expect(ran).toBe(0);
    });

    it('completes a job without steps in one commit, counting its attempt', async () => {
      const id = await createGeneration(await newOwner());
      const result = generated();
      const commit = await jobs.completeInCommit({ jobId: id }, async () => result);
      expect(commit).toMatchObject({ start: 'started', completion: { jobCompleted: true } });
      expect(await job(id)).toMatchObject({ status: 'completed', result, attempts: 1 });
    });
  });

  describe('markRetrying', () => {
    it('puts a job back to queued with the reason, keeping its attempts', async () => {
      const id = await createGeneration(await newOwner());
      await jobs.markActive({ jobId: id });
      await jobs.markRetrying(
        { jobId: id },
        { code: 'provider_timeout', message: 'Gemini took too long', retryable: true },
      );
      expect(await job(id)).toMatchObject({
        status: 'queued',
        attempts: 1,
        error: { code: 'provider_timeout', message: 'Gemini took too long', retryable: true },
        finishedAt: null,
      });
      expect(await jobs.markActive({ jobId: id })).toBe('started');
      expect(await job(id)).toMatchObject({ status: 'active', attempts: 2 });
    });

    it('puts only the step back to queued; the job stays as it was', async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] b.jpg']);
      await jobs.markActive({ jobId: id, step: 1 });
      await jobs.markRetrying(
        { jobId: id, step: 1 },
        { code: 'provider_unavailable', message: '503', retryable: true },
      );
      expect(await job(id)).toMatchObject({ status: 'active', error: null });
      const found = await jobs.findForOwner(id, owner);
      expect(found?.steps[1]).toEqual({
        step: 1,
        kind: 'promote-media',
        label: 'media[1] b.jpg',
        state: 'queued',
        attempts: 1,
        error: { code: 'provider_unavailable', message: '503', retryable: true },
      });
      expect(found?.steps[0]).toMatchObject({ state: 'queued', error: null });
    });
  });

  describe('markFailed', () => {
    it('fails a job without steps with the error as given', async () => {
      const id = await createGeneration(await newOwner());
      await jobs.markFailed(
        { jobId: id },
        { code: 'provider_blocked', message: 'blocked by safety', retryable: false },
      );
      const row = await job(id);
      expect(row).toMatchObject({
        status: 'failed',
        error: { code: 'provider_blocked', message: 'blocked by safety', retryable: false },
      });
      expect(row.finishedAt).toBeInstanceOf(Date);
    });

    it("fails the whole job when a step fails, naming the step's label", async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg', 'media[1] clip.mp4']);
      await jobs.markActive({ jobId: id, step: 1 });
      await jobs.markFailed(
        { jobId: id, step: 1 },
        { code: 'provider_rejected', message: 'file too large', retryable: false },
      );
      const row = await job(id);
      expect(row).toMatchObject({
        status: 'failed',
        error: { code: 'provider_rejected', message: 'media[1] clip.mp4: file too large', retryable: false },
      });
      expect(row.finishedAt).toBeInstanceOf(Date);
      const found = await jobs.findForOwner(id, owner);
      expect(found?.steps.map(({ state, error }) => ({ state, error }))).toEqual([
        { state: 'queued', error: null },
        { state: 'failed', error: { code: 'provider_rejected', message: 'file too large', retryable: false } },
        { state: 'queued', error: null },
      ]);
    });

    it('names a step by its number when it has no row', async () => {
      const id = await createSubmission(await newOwner(), []);
      await jobs.markFailed({ jobId: id, step: 7 }, { code: 'internal', message: 'boom', retryable: false });
      expect((await job(id)).error).toEqual({ code: 'internal', message: 'step 7: boom', retryable: false });
    });
  });

  describe('resetForRetry', () => {
    it('queues the job and every step that has not completed again, clearing errors', async () => {
      const id = await createSubmission(await newOwner(), ['media[0] a.jpg', 'media[1] b.jpg']);
      await jobs.markActive({ jobId: id, step: 0 });
      await jobs.markCompleted({ jobId: id, step: 0 }, stored('a.jpg'));
      await jobs.markActive({ jobId: id, step: 1 });
      await jobs.markFailed({ jobId: id, step: 1 }, { code: 'provider_auth', message: 'bad key', retryable: false });
      expect((await job(id)).status).toBe('failed');

      await jobs.resetForRetry(id);
      expect(await job(id)).toMatchObject({ status: 'queued', error: null, finishedAt: null, attempts: 2 });
      expect(
        (await steps(id)).map(({ state, attempts, result, error }) => ({ state, attempts, result, error })),
      ).toEqual([
        { state: 'completed', attempts: 1, result: stored('a.jpg'), error: null },
        { state: 'queued', attempts: 1, result: null, error: null },
        { state: 'queued', attempts: 0, result: null, error: null },
      ]);
      expect(await jobs.markActive({ jobId: id, step: 1 })).toBe('started');
      expect(await jobs.promotedMedia(id)).toEqual(new Map([[0, stored('a.jpg')]]));
    });

    it('touches no other job', async () => {
      const owner = await newOwner();
      const reset = await createGeneration(owner);
      const other = await createGeneration(owner);
      await jobs.markFailed({ jobId: reset }, { code: 'internal', message: 'x', retryable: false });
      await jobs.markFailed({ jobId: other }, { code: 'internal', message: 'y', retryable: false });
      await jobs.resetForRetry(reset);
      expect((await job(reset)).status).toBe('queued');
      expect(await job(other)).toMatchObject({ status: 'failed', error: { message: 'y' } });
    });
  });

  describe('countUnfinished', () => {
    it("counts a user's queued and active jobs of one kind", async () => {
      const owner = await newOwner();
      const other = await newOwner();
      expect(await jobs.countUnfinished(owner, 'generate-image')).toBe(0);

      await createGeneration(owner);
      const active = await createGeneration(owner);
      await jobs.markActive({ jobId: active });
      const completed = await createGeneration(owner);
      await jobs.markCompleted({ jobId: completed }, generated());
      const failed = await createGeneration(owner);
      await jobs.markFailed({ jobId: failed }, { code: 'internal', message: 'x', retryable: false });
      await createSubmission(owner, ['media[0] a.jpg']);
      await createGeneration(other);

      expect(await jobs.countUnfinished(owner, 'generate-image')).toBe(2);
      expect(await jobs.countUnfinished(owner, 'submit-post')).toBe(1);
      expect(await jobs.countUnfinished(other, 'generate-image')).toBe(1);
      expect(await jobs.countUnfinished(other, 'submit-blog')).toBe(0);
    });
  });

  describe('findUnfinishedBefore', () => {
    /** Every job of this file was written now: the ones these tests look at are moved back to 2001. */
    const backdate = (id: string, at: string) =>
      sql`update jobs set "createdAt" = ${new Date(at)}, "updatedAt" = ${new Date(at)} where id = ${id}`.execute(
        database.db,
      );

    it('finds unfinished jobs not touched since the cutoff, oldest first, up to the limit', async () => {
      const owner = await newOwner();
      const oldest = await createGeneration(owner);
      const older = await createSubmission(owner, ['media[0] a.jpg']);
      const oldButActive = await createGeneration(owner);
      const oldButCompleted = await createGeneration(owner);
      const oldButFailed = await createGeneration(owner);
      const recent = await createGeneration(owner);
      await jobs.markActive({ jobId: oldButActive });
      await jobs.markCompleted({ jobId: oldButCompleted }, generated());
      await jobs.markFailed({ jobId: oldButFailed }, { code: 'internal', message: 'x', retryable: false });
      await backdate(oldButActive, '2001-01-03T00:00:00Z');
      await backdate(older, '2001-01-02T00:00:00Z');
      await backdate(oldest, '2001-01-01T00:00:00Z');
      await backdate(oldButCompleted, '2001-01-01T12:00:00Z');
      await backdate(oldButFailed, '2001-01-01T12:00:00Z');
      await backdate(recent, '2001-02-01T00:00:00Z');

      const cutoff = new Date('2001-01-15T00:00:00Z');
      expect((await jobs.findUnfinishedBefore(cutoff, 10)).map((row) => row.id)).toEqual([oldest, older, oldButActive]);
      expect((await jobs.findUnfinishedBefore(cutoff, 2)).map((row) => row.id)).toEqual([oldest, older]);
      expect(await jobs.findUnfinishedBefore(new Date('2000-12-31T00:00:00Z'), 10)).toEqual([]);
    });

    it('does not find a job that a worker touched after the cutoff', async () => {
      const id = await createGeneration(await newOwner());
      await backdate(id, '2001-03-01T00:00:00Z');
      const cutoff = new Date('2001-06-01T00:00:00Z');
      expect((await jobs.findUnfinishedBefore(cutoff, 100)).map((row) => row.id)).toContain(id);
      await jobs.markActive({ jobId: id });
      expect((await jobs.findUnfinishedBefore(cutoff, 100)).map((row) => row.id)).not.toContain(id);
    });
  });

  describe('promotedMedia', () => {
    it('maps the completed promote-media steps only to the files they stored', async () => {
      const id = await createSubmission(await newOwner(), ['media[0] a.jpg', 'media[1] b.jpg', 'media[2] c.jpg']);
      expect(await jobs.promotedMedia(id)).toEqual(new Map());
      await jobs.markCompleted({ jobId: id, step: 2 }, stored('c.jpg'));
      await jobs.markCompleted({ jobId: id, step: 0 }, stored('a.jpg'));
      await jobs.markRetrying({ jobId: id, step: 1 }, { code: 'provider_timeout', message: 'x', retryable: true });
      await jobs.markCompleted({ jobId: id, step: 3 }, { postId: randomUUID(), media: [] });
      expect(await jobs.promotedMedia(id)).toEqual(
        new Map([
          [0, stored('a.jpg')],
          [2, stored('c.jpg')],
        ]),
      );
      expect(await jobs.promotedMedia(randomUUID())).toEqual(new Map());
    });
  });

  describe('blogContent', () => {
    it("answers a blog submission's content as it was accepted, however long", async () => {
      const owner = await newOwner();
      const id = randomUUID();
      const content = `# Über\r\n\n${'ünïcødé 🦊 "quoted" \\ '.repeat(8_000)}`;
      await jobs.create({ id, kind: 'submit-blog', ownerId: owner, plan: blogPlan(id, owner, 0, content) });
      expect(await jobs.blogContent(id)).toBe(content);
    });

    it('answers undefined for an unknown job, and for a job whose plan has no content', async () => {
      expect(await jobs.blogContent(randomUUID())).toBeUndefined();
      expect(await jobs.blogContent(await createGeneration(await newOwner()))).toBeUndefined();
    });
  });

  describe('delete', () => {
    it('removes the job with its steps and inputs, and no other', async () => {
      const owner = await newOwner();
      const id = await createSubmission(owner, ['media[0] a.jpg']);
      const withInput = randomUUID();
      await jobs.create({
        id: withInput,
        kind: 'generate-image',
        ownerId: owner,
        plan: generationPlan(withInput, owner, 'p', true),
        inputs: [{ name: 'referenceImage', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }],
      });
      const kept = await createGeneration(owner);
      await jobs.delete(id);
      await jobs.delete(withInput);
      expect(await jobs.findById(id)).toBeUndefined();
      expect(await steps(id)).toEqual([]);
      expect(await jobs.findById(withInput)).toBeUndefined();
      expect(await jobs.findInput(withInput, 'referenceImage')).toBeUndefined();
      expect(await jobs.findById(kept)).toBeDefined();
    });
  });

  describe('retention', () => {
    const DAY_MS = 24 * 3_600_000;

    /** A generation with a reference image, left in `status`. */
    async function generationWithInput(ownerId: string, status: 'queued' | 'completed' | 'failed'): Promise<string> {
      const id = randomUUID();
      await jobs.create({
        id,
        kind: 'generate-image',
        ownerId,
        plan: generationPlan(id, ownerId, 'p', true),
        inputs: [{ name: 'referenceImage', contentType: 'image/png', sha256: 's', data: Buffer.from('png') }],
      });
      if (status === 'completed') await jobs.markCompleted({ jobId: id }, generated());
      if (status === 'failed')
        await jobs.markFailed({ jobId: id }, { code: 'internal', message: 'x', retryable: false });
      return id;
    }

    /** A promote-media request of a submission's chain, for an uploaded file. */
    const promote = (jobId: string, step: number) =>
      ({
        name: 'promote-media',
        payload: {
          jobId,
          step,
          source: { ...stored(`u${step}`), providerId: `uploads/u${step}` },
          folder: 'auto',
          publicId: `p${step}`,
          copy: false,
        },
      }) as const;

    /** A submission of two media steps, each in `completedSteps` completed, then failed `agoMs` ago. */
    async function failedSubmission(
      ownerId: string,
      kind: 'submit-post' | 'submit-blog',
      agoMs: number,
      completedSteps: number[] = [],
    ): Promise<string> {
      const id = randomUUID();
      const last = kind === 'submit-post' ? postPlan(id, ownerId, 2) : blogPlan(id, ownerId, 2);
      await jobs.create({
        id,
        kind,
        ownerId,
        plan: { ...last, first: [promote(id, 0), promote(id, 1)] },
        steps: [
          { step: 0, kind: 'promote-media', label: 'media[0]' },
          { step: 1, kind: 'promote-media', label: 'media[1]' },
          { step: 2, kind: last.last.name, label: 'write' },
        ],
      });
      for (const step of completedSteps) await jobs.markCompleted({ jobId: id, step }, stored(`p${step}`));
      await jobs.markFailed({ jobId: id, step: 2 }, { code: 'internal', message: 'x', retryable: false });
      await finishedAgo(id, agoMs);
      return id;
    }
    const finishedAgo = (id: string, agoMs: number) =>
      database.db
        .updateTable('jobs')
        .set({ finishedAt: new Date(Date.now() - agoMs) })
        .where('id', '=', id)
        .execute();

    it('deletes the inputs of completed and failed jobs, a batch at a time, and keeps those of live jobs', async () => {
      // Inputs that earlier tests' ended jobs left are deleted first: this test counts its own.
      while ((await jobs.deleteEndedJobInputs(1000)) > 0);
      const owner = await newOwner();
      const ended = [
        await generationWithInput(owner, 'completed'),
        await generationWithInput(owner, 'failed'),
        await generationWithInput(owner, 'failed'),
      ];
      const live = await generationWithInput(owner, 'queued');

      expect(await jobs.deleteEndedJobInputs(2)).toBe(2);
      expect(await jobs.deleteEndedJobInputs(2)).toBe(1);
      expect(await jobs.deleteEndedJobInputs(2)).toBe(0);
      for (const id of ended) {
        expect(await jobs.findInput(id, 'referenceImage')).toBeUndefined();
        expect(await jobs.findById(id)).toBeDefined();
      }
      expect(await jobs.findInput(live, 'referenceImage')).toBeDefined();
    });

    it('finds failed posts and blogs that ended before a time and are not cleaned, in id order, page by page', async () => {
      const owner = await newOwner();
      const post = await failedSubmission(owner, 'submit-post', 2 * DAY_MS, [0]);
      const blog = await failedSubmission(owner, 'submit-blog', 2 * DAY_MS);
      await failedSubmission(owner, 'submit-post', DAY_MS / 2);
      const generation = await generationWithInput(owner, 'failed');
      await finishedAgo(generation, 2 * DAY_MS);
      const completed = await createSubmission(owner, ['media[0]']);
      await jobs.markCompleted({ jobId: completed, step: 0 }, stored('c0'));
      await jobs.markCompleted({ jobId: completed, step: 1 }, { postId: randomUUID(), media: [] });
      await finishedAgo(completed, 2 * DAY_MS);
      const before = new Date(Date.now() - DAY_MS);

      const expected = (id: string) => ({
        id,
        first: [promote(id, 0), promote(id, 1)],
        completedSteps: id === post ? [0] : [],
      });
      const [first, second] = [post, blog].sort() as [string, string];
      expect(await jobs.findFailedSubmissions(before, 10)).toEqual([expected(first), expected(second)]);
      expect(await jobs.findFailedSubmissions(before, 1)).toEqual([expected(first)]);
      expect(await jobs.findFailedSubmissions(before, 1, first)).toEqual([expected(second)]);
      expect(await jobs.findFailedSubmissions(before, 1, second)).toEqual([]);

      expect(await jobs.markStagedUploadsCleaned(post)).toBe(true);
      expect(await jobs.findFailedSubmissions(before, 10)).toEqual([expected(blog)]);
    });

    it('marks only a failed job cleaned: one run again is not', async () => {
      const owner = await newOwner();
      const id = await failedSubmission(owner, 'submit-post', 2 * DAY_MS);
      await jobs.resetForRetry(id);
      expect(await jobs.markStagedUploadsCleaned(id)).toBe(false);
    });
  });
});
