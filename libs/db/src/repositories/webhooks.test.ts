import { randomUUID } from 'node:crypto';
import type { WebhookEvent } from '@mediaflow/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { JobsRepository } from './jobs.ts';
import { WebhookDeliveryRecorder, WebhooksRepository } from './webhooks.ts';

const BOTH: WebhookEvent[] = ['job.completed', 'job.failed'];

describe('WebhooksRepository', () => {
  let database: TestDatabase;
  let webhooks: WebhooksRepository;
  let jobs: JobsRepository;
  let recorder: WebhookDeliveryRecorder;
  beforeAll(async () => {
    database = await createTestDatabase();
    webhooks = new WebhooksRepository(database.db);
    jobs = new JobsRepository(database.db);
    recorder = new WebhookDeliveryRecorder(database.db);
  });
  afterAll(() => database.drop());

  async function newUser(): Promise<string> {
    const id = `user-${randomUUID()}`;
    await database.db.insertInto('users').values({ id }).execute();
    return id;
  }

  async function newWebhook(ownerId: string, events: WebhookEvent[] = BOTH, url = 'https://hooks.example/in') {
    return webhooks.create({ ownerId, url, events, secret: `whsec_${randomUUID()}` });
  }

  /** A generation job of `ownerId`'s, as the gateway writes it. */
  async function newJob(ownerId: string, steps = 0): Promise<string> {
    const id = randomUUID();
    await jobs.create({
      id,
      kind: steps > 0 ? 'submit-blog' : 'generate-image',
      ownerId,
      plan: { last: { name: 'generate-image', payload: { jobId: id, ownerId, prompt: 'p', hasReference: false } } },
      steps: Array.from({ length: steps }, (_, step) => ({ step, kind: 'promote-media', label: `media[${step}]` })),
    });
    return id;
  }

  const completedResult = {
    assetId: randomUUID(),
    url: 'http://media.test/a.jpg',
    provider: 'local',
    width: 1,
    height: 1,
    aspectRatio: '1:1',
    format: 'jpg',
  } as const;

  async function deliveriesOf(jobId: string) {
    return database.db
      .selectFrom('webhook_deliveries')
      .select(['webhookId', 'event', 'status', 'attempt'])
      .where('jobId', '=', jobId)
      .orderBy('webhookId')
      .execute();
  }

  it('registers, lists (oldest first, never the secret) and deletes a webhook, for its owner only', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const first = await newWebhook(alice, ['job.failed'], 'https://a.example/1');
    const second = await newWebhook(alice);
    const bobs = await newWebhook(bob);
    expect(first).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: 'https://a.example/1',
      events: ['job.failed'],
      createdAt: expect.any(Date),
    });
    expect(await webhooks.listForOwner(alice)).toEqual([first, second]);
    expect(await webhooks.listForOwner(bob)).toEqual([bobs]);

    expect(await webhooks.deleteForOwner(first.id, bob)).toBe(false);
    expect(await webhooks.deleteForOwner(first.id, alice)).toBe(true);
    expect(await webhooks.deleteForOwner(first.id, alice)).toBe(false);
    expect(await webhooks.listForOwner(alice)).toEqual([second]);
    expect(await webhooks.deliveriesForOwner(first.id, alice, 100)).toBeUndefined();
    expect(await webhooks.deliveriesForOwner(second.id, bob, 100)).toBeUndefined();
    expect(await webhooks.deliveriesForOwner(second.id, alice, 100)).toEqual([]);
  });

  it("writes a job's deliveries in the commit that ends it: one per live webhook of its owner that asked for the event", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const both = await newWebhook(alice);
    const failedOnly = await newWebhook(alice, ['job.failed']);
    const deleted = await newWebhook(alice);
    await webhooks.deleteForOwner(deleted.id, alice);
    await newWebhook(bob);

    const completed = await newJob(alice);
    const completion = await jobs.markCompleted({ jobId: completed }, completedResult);
    expect(completion).toEqual({ jobCompleted: true, deliveries: [expect.any(String)] });
    expect(await deliveriesOf(completed)).toEqual([
      { webhookId: both.id, event: 'job.completed', status: 'pending', attempt: 0 },
    ]);

    const failed = await newJob(alice);
    const written = await jobs.markFailed({ jobId: failed }, { code: 'internal', message: 'boom', retryable: false });
    expect(written).toHaveLength(2);
    expect(await deliveriesOf(failed)).toEqual(
      [both, failedOnly]
        .map(({ id }) => ({ webhookId: id, event: 'job.failed', status: 'pending', attempt: 0 }))
        .sort((a, b) => a.webhookId.localeCompare(b.webhookId)),
    );
    // Failing again (a second failed step, or a retry by an admin that fails) writes no second delivery.
    expect(await jobs.markFailed({ jobId: failed }, { code: 'internal', message: 'again', retryable: false })).toEqual(
      [],
    );
    expect(await deliveriesOf(failed)).toHaveLength(2);
  });

  it('writes nothing for a step that does not end its job, and the completed event once the last step does', async () => {
    const alice = await newUser();
    const hook = await newWebhook(alice);
    const job = await newJob(alice, 2);
    const media = {
      provider: 'local',
      providerId: 'auto/x',
      url: 'http://media.test/auto/x',
      bytes: 1,
      resourceType: 'image',
      format: 'jpg',
    } as const;
    expect(await jobs.markCompleted({ jobId: job, step: 0 }, media)).toEqual({ jobCompleted: false, deliveries: [] });
    expect(await deliveriesOf(job)).toEqual([]);
    expect((await jobs.markCompleted({ jobId: job, step: 1 }, media)).jobCompleted).toBe(true);
    expect(await deliveriesOf(job)).toEqual([
      { webhookId: hook.id, event: 'job.completed', status: 'pending', attempt: 0 },
    ]);
  });

  it('a job whose owner has no webhook ends as before', async () => {
    const carol = await newUser();
    const job = await newJob(carol);
    expect(await jobs.markCompleted({ jobId: job }, completedResult)).toEqual({ jobCompleted: true, deliveries: [] });
    expect(await deliveriesOf(job)).toEqual([]);
    expect((await jobs.findById(job))?.status).toBe('completed');
  });

  it("records a delivery's attempts: delivering, retrying with its answer and reason, then delivered", async () => {
    const alice = await newUser();
    const hook = await newWebhook(alice);
    const job = await newJob(alice);
    const {
      deliveries: [id],
    } = await jobs.markCompleted({ jobId: job }, completedResult);
    if (!id) throw new Error('no delivery');

    expect(await webhooks.findDelivery(id)).toEqual({
      id,
      jobId: job,
      event: 'job.completed',
      status: 'pending',
      attempt: 0,
      createdAt: expect.any(Date),
      webhook: {
        id: hook.id,
        ownerId: alice,
        url: 'https://hooks.example/in',
        secret: expect.any(String),
        deletedAt: null,
      },
    });

    const ref = { jobId: id };
    expect(await recorder.markActive(ref)).toBe('started');
    await webhooks.recordResponse(id, { statusCode: 500, durationMs: 12, error: 'answered 500' });
    // The attempt's answer and its error show together, before the runtime records the retry.
    expect((await webhooks.deliveriesForOwner(hook.id, alice, 100))?.[0]).toMatchObject({
      status: 'delivering',
      statusCode: 500,
      error: 'answered 500',
    });
    await recorder.markRetrying(ref, { code: 'provider_unavailable', message: 'answered 500', retryable: true });
    let [view] = (await webhooks.deliveriesForOwner(hook.id, alice, 100)) ?? [];
    expect(view).toEqual({
      id,
      event: 'job.completed',
      jobId: job,
      status: 'pending',
      attempt: 1,
      statusCode: 500,
      durationMs: 12,
      error: 'answered 500',
      createdAt: expect.any(Date),
    });

    expect(await recorder.markActive(ref)).toBe('started');
    expect(await recorder.markCompleted(ref, { statusCode: 204, durationMs: 7 })).toEqual({
      jobCompleted: true,
      deliveries: [],
    });
    [view] = (await webhooks.deliveriesForOwner(hook.id, alice, 100)) ?? [];
    expect(view).toMatchObject({ status: 'delivered', attempt: 2, statusCode: 204, durationMs: 7, error: null });
    // Offered again (its completion lost by the queue): nothing to send.
    expect(await recorder.markActive(ref)).toBe('completed');
  });

  it('a failed delivery is not started again; one waiting for the database gets its attempt back', async () => {
    const alice = await newUser();
    await newWebhook(alice);
    const [failedJob, waitingJob] = [await newJob(alice), await newJob(alice)];
    const [failed] = await jobs.markFailed({ jobId: failedJob }, { code: 'internal', message: 'x', retryable: false });
    const [waiting] = await jobs.markFailed(
      { jobId: waitingJob },
      { code: 'internal', message: 'x', retryable: false },
    );
    if (!failed || !waiting) throw new Error('no deliveries');

    await recorder.markActive({ jobId: failed });
    await recorder.markFailed({ jobId: failed }, { code: 'invalid_input', message: 'gone', retryable: false });
    expect(await recorder.markActive({ jobId: failed })).toBe('ended');
    expect(await recorder.markActive({ jobId: randomUUID() })).toBe('ended');

    await recorder.markActive({ jobId: waiting });
    const note = { code: 'dependency_unavailable' as const, message: 'waiting for the database', retryable: true };
    // Moved since: left alone.
    await recorder.markWaiting({ jobId: waiting }, note, { since: new Date(Date.now() - 60_000), uncount: true });
    expect(await webhooks.findDelivery(waiting)).toMatchObject({ status: 'delivering', attempt: 1 });
    await recorder.markWaiting({ jobId: waiting }, note, { since: new Date(Date.now() + 1_000), uncount: true });
    expect(await webhooks.findDelivery(waiting)).toMatchObject({ status: 'pending', attempt: 0 });
    await expect(recorder.ping()).resolves.toBeUndefined();
  });

  it('counts the attempt with a failure recorded for an attempt whose start was not (countAttempt)', async () => {
    const alice = await newUser();
    await newWebhook(alice);
    const [id] = await jobs.markFailed(
      { jobId: await newJob(alice) },
      { code: 'internal', message: 'x', retryable: false },
    );
    if (!id) throw new Error('no delivery');
    const error = { code: 'provider_unavailable' as const, message: 'answered 503', retryable: true };
    await recorder.markRetrying({ jobId: id }, error, { countAttempt: true });
    expect(await webhooks.findDelivery(id)).toMatchObject({ status: 'pending', attempt: 1 });
    await recorder.markRetrying({ jobId: id }, error);
    expect(await webhooks.findDelivery(id)).toMatchObject({ status: 'pending', attempt: 1 });
    expect(await recorder.markFailed({ jobId: id }, error, { countAttempt: true })).toEqual([]);
    expect(await webhooks.findDelivery(id)).toMatchObject({ status: 'failed', attempt: 2 });
  });

  it('lists the last deliveries newest first, up to the limit', async () => {
    const alice = await newUser();
    const hook = await newWebhook(alice);
    const ended: string[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await newJob(alice);
      await jobs.markFailed({ jobId: job }, { code: 'internal', message: 'x', retryable: false });
      ended.push(job);
    }
    const listed = await webhooks.deliveriesForOwner(hook.id, alice, 2);
    expect(listed?.map(({ jobId }) => jobId)).toEqual([ended[2], ended[1]]);
  });

  it('pages through the deliveries unsent since before a time, oldest first', async () => {
    const alice = await newUser();
    await newWebhook(alice);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await newJob(alice);
      ids.push(...(await jobs.markFailed({ jobId: job }, { code: 'internal', message: 'x', retryable: false })));
    }
    const before = new Date(Date.now() + 1_000);
    const all = (await webhooks.unfinishedBefore(before, 1_000)).map(({ id }) => id);
    expect(all).toEqual(expect.arrayContaining(ids));
    const first = await webhooks.unfinishedBefore(before, 1);
    const rest = await webhooks.unfinishedBefore(before, 1_000, first[0]);
    expect([...first, ...rest].map(({ id }) => id)).toEqual(all);
    expect(await webhooks.unfinishedBefore(new Date(0), 10)).toEqual([]);
    // Delivering (its worker may have died) is still unsent; delivered or failed is done with.
    await recorder.markActive({ jobId: ids[0] ?? '' });
    await recorder.markActive({ jobId: ids[1] ?? '' });
    await recorder.markCompleted({ jobId: ids[1] ?? '' }, { statusCode: 200, durationMs: 1 });
    await recorder.markActive({ jobId: ids[2] ?? '' });
    await recorder.markFailed({ jobId: ids[2] ?? '' }, { code: 'internal', message: 'x', retryable: false });
    const unsent = (await webhooks.unfinishedBefore(new Date(Date.now() + 1_000), 1_000)).map(({ id }) => id);
    expect(unsent).toContain(ids[0]);
    expect(unsent).not.toContain(ids[1]);
    expect(unsent).not.toContain(ids[2]);
  });
});
