import { randomBytes, randomUUID } from 'node:crypto';
import {
  type JobErrorRecord,
  type JobPlan,
  type JobRef,
  type JobRequest,
  PermanentJobError,
  type StoredMedia,
} from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type Redis } from './connection.ts';
import { QueueRepository } from './queue-repository.ts';
import { type HandlerMap, type JobStateRecorder, type QueueWorker, startWorker } from './worker.ts';

// The global setup (libs/testing) provides it; libs/queue cannot depend on @mediaflow/testing.
declare module 'vitest' {
  interface ProvidedContext {
    redisUrl: string;
  }
}

/** This file's keys: braces make a Redis Cluster hash tag, so they would share one slot. */
const FILE_PREFIX = `{mf-test-${randomBytes(4).toString('hex')}}`;
const RETRY = { attempts: 3, backoffMs: 10 };

/** A recorder that keeps every call in memory, and lets every job run. */
function memoryRecorder(): JobStateRecorder & { calls: Array<{ call: string; ref: JobRef; error?: JobErrorRecord }> } {
  const calls: Array<{ call: string; ref: JobRef; error?: JobErrorRecord }> = [];
  return {
    calls,
    markActive: async (ref) => {
      calls.push({ call: 'active', ref });
      return 'started' as const;
    },
    markWaiting: async (ref) => {
      calls.push({ call: 'waiting', ref });
    },
    ping: async () => {},
    markCompleted: async (ref) => {
      calls.push({ call: 'completed', ref });
      return { jobCompleted: ref.step === undefined, deliveries: [] };
    },
    markRetrying: async (ref, error) => {
      calls.push({ call: 'retrying', ref, error });
    },
    markFailed: async (ref, error) => {
      calls.push({ call: 'failed', ref, error });
      return [];
    },
  };
}

const generation = (jobId = randomUUID()): JobRequest => ({
  name: 'generate-image',
  payload: { jobId, ownerId: 'alice', prompt: 'a fox', hasReference: false },
});

const promotion = (jobId: string, step: number): JobRequest => ({
  name: 'promote-media',
  payload: {
    jobId,
    step,
    source: media(`uploads/${jobId}-${step}.jpg`),
    folder: 'auto',
    publicId: `${jobId}-${step}`,
    copy: false,
  },
});

const media = (providerId: string): StoredMedia => ({
  provider: 'local',
  providerId,
  url: `http://media.test/${providerId}`,
  bytes: 10,
  resourceType: 'image',
  format: 'jpg',
});

/** A post submission's plan: two promotions, then the post. */
const postPlan = (jobId = randomUUID()): JobPlan & { first: JobRequest[] } => ({
  first: [promotion(jobId, 0), promotion(jobId, 1)],
  last: {
    name: 'persist-post',
    payload: {
      jobId,
      step: 2,
      authorId: 'alice',
      brandId: randomUUID(),
      caption: 'hello',
      scheduledAt: null,
      mediaSteps: [0, 1],
    },
  },
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last seen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('QueueRepository on Redis', () => {
  let producer: Redis;
  let workerConnection: Redis;
  let repository: QueueRepository;
  let prefix: string;
  let testCount = 0;
  const workers: QueueWorker[] = [];

  beforeAll(() => {
    producer = createRedis(inject('redisUrl'), 'producer');
    workerConnection = createRedis(inject('redisUrl'), 'worker');
  });

  // Each test gets queues of its own (still under this file's hash tag), so counts start at zero.
  const fresh = () => {
    prefix = `${FILE_PREFIX}-${++testCount}`;
    repository = new QueueRepository({ connection: producer, prefix, retry: RETRY });
    return repository;
  };

  const startTestWorker = <Q extends 'generation' | 'storage' | 'webhooks'>(
    queue: Q,
    handlers: HandlerMap<Q, undefined>,
    recorder: JobStateRecorder = memoryRecorder(),
  ) => {
    const worker = startWorker({
      queue,
      handlers,
      deps: undefined,
      connection: workerConnection,
      prefix,
      concurrency: 1,
      lockMs: 30_000,
      recorder,
      logger: silentLogger,
    });
    workers.push(worker);
    return worker;
  };

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.close(true);
    await repository?.close();
  });

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await workerConnection.scan(cursor, 'MATCH', `${FILE_PREFIX}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await workerConnection.del(...keys);
    } while (cursor !== '0');
    producer.disconnect();
    workerConnection.disconnect();
  });

  it('queues a single job: it waits in its queue', async () => {
    const queues = fresh();
    const request = generation();
    await queues.enqueue({ last: request });
    expect(await queues.counts('generation')).toEqual({
      waiting: 1,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
      'waiting-children': 0,
    });
    expect(await queues.state(request)).toEqual({ state: 'waiting', failedReason: '', attemptsMade: 0 });
    // Other queues are left alone.
    expect((await queues.counts('storage')).waiting).toBe(0);
  });

  it('queues a chain: the last job waits for its children, which wait in their own queue', async () => {
    const queues = fresh();
    const plan = postPlan();
    await queues.enqueue(plan);
    expect(await queues.state(plan.last)).toMatchObject({ state: 'waiting-children' });
    for (const child of plan.first) expect(await queues.state(child)).toMatchObject({ state: 'waiting' });
    expect(await queues.counts('storage')).toMatchObject({ waiting: 2, 'waiting-children': 0 });
    expect(await queues.counts('persistence')).toMatchObject({ waiting: 0, 'waiting-children': 1 });
  });

  it('keeps one job when the same plan is queued twice (ids are the PostgreSQL ids)', async () => {
    const queues = fresh();
    const single: JobPlan = { last: generation() };
    const chain = postPlan();
    await queues.enqueue(single);
    await queues.enqueue(single);
    await queues.enqueue(chain);
    await queues.enqueue(chain);
    expect(await queues.counts('generation')).toMatchObject({ waiting: 1 });
    expect(await queues.counts('storage')).toMatchObject({ waiting: 2 });
    expect(await queues.counts('persistence')).toMatchObject({ 'waiting-children': 1, waiting: 0 });
    // Another job of the same kind is another BullMQ job.
    await queues.enqueue({ last: generation() });
    expect(await queues.counts('generation')).toMatchObject({ waiting: 2 });
  });

  it('removes a single job, and a chain with its children', async () => {
    const queues = fresh();
    const kept = generation();
    const removed = generation();
    const chain = postPlan();
    await queues.enqueue({ last: kept });
    await queues.enqueue({ last: removed });
    await queues.enqueue(chain);

    await queues.remove([removed]);
    expect(await queues.state(removed)).toBeUndefined();
    expect(await queues.state(kept)).toMatchObject({ state: 'waiting' });

    await queues.remove([...chain.first, chain.last]);
    expect(await queues.state(chain.last)).toBeUndefined();
    for (const child of chain.first) expect(await queues.state(child)).toBeUndefined();
    expect(await queues.counts('storage')).toMatchObject({ waiting: 0 });
    expect(await queues.counts('persistence')).toMatchObject({ waiting: 0, 'waiting-children': 0 });
    // Removing what is already gone is harmless.
    await queues.remove([removed]);
  });

  it('requeues a job BullMQ failed, where queueing it again would do nothing', async () => {
    const queues = fresh();
    const request = generation();
    const runs: string[] = [];
    startTestWorker('generation', {
      'generate-image': async (payload) => {
        runs.push(payload.jobId);
        throw new PermanentJobError('invalid_input', 'no good');
      },
    });
    await queues.enqueue({ last: request });
    await until(
      () => queues.state(request),
      (state) => state?.state === 'failed',
    );
    for (const worker of workers.splice(0)) await worker.close();

    await queues.enqueue({ last: request });
    expect(await queues.state(request)).toMatchObject({ state: 'failed' });

    await queues.requeue({ last: request });
    expect(await queues.state(request)).toEqual({ state: 'waiting', failedReason: '', attemptsMade: 0 });
    expect(await queues.counts('generation')).toMatchObject({ waiting: 1, failed: 0 });
    expect(runs).toHaveLength(1);
  });

  it('requeues a whole chain: children that had completed run again', async () => {
    const queues = fresh();
    const plan = postPlan();
    const promoted: number[] = [];
    startTestWorker('storage', {
      'promote-media': async (payload) => {
        promoted.push(payload.step);
        return media(`auto/${payload.publicId}.jpg`);
      },
    });
    await queues.enqueue(plan);
    // Both promotions done: the post waits for a persistence worker (there is none here).
    await until(
      () => queues.state(plan.last),
      (state) => state?.state === 'waiting',
    );
    expect(promoted.sort()).toEqual([0, 1]);
    for (const worker of workers.splice(0)) await worker.close();

    await queues.requeue(plan);
    expect(await queues.state(plan.last)).toMatchObject({ state: 'waiting-children' });
    for (const child of plan.first) expect(await queues.state(child)).toMatchObject({ state: 'waiting' });
    expect(await queues.counts('storage')).toMatchObject({ waiting: 2, completed: 0 });
    expect(await queues.counts('persistence')).toMatchObject({ waiting: 0, 'waiting-children': 1 });
  });

  it('lists the jobs a worker failed for good, newest first, with reason, step and attempts', async () => {
    const queues = fresh();
    const jobId = randomUUID();
    const first = promotion(jobId, 0);
    const second = promotion(randomUUID(), 3);
    const recorder = memoryRecorder();
    startTestWorker(
      'storage',
      {
        'promote-media': async (payload) => {
          throw new PermanentJobError('invalid_input', `file ${payload.publicId} is gone`);
        },
      },
      recorder,
    );
    const before = Date.now();
    await queues.add(first);
    await until(
      () => queues.state(first),
      (state) => state?.state === 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    await queues.add(second);
    await until(
      () => queues.state(second),
      (state) => state?.state === 'failed',
    );

    expect(await queues.state(first)).toMatchObject({ state: 'failed', failedReason: `file ${jobId}-0 is gone` });
    const failed = await queues.failed('storage', 10);
    expect(failed).toHaveLength(2);
    expect(failed[1]).toEqual({
      jobId,
      queueJobId: `${jobId}-0`,
      name: 'promote-media',
      step: 0,
      reason: `file ${jobId}-0 is gone`,
      // A permanent failure is not retried, though the policy allows 3 tries.
      attempts: 1,
      failedAt: expect.any(Date),
    });
    expect(failed[1]?.failedAt?.getTime()).toBeGreaterThanOrEqual(before);
    expect(failed[1]?.failedAt?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(failed[0]).toMatchObject({ step: 3, queueJobId: `${second.payload.jobId}-3` });
    expect(await queues.failed('storage', 1)).toEqual([failed[0]]);
    expect(await queues.counts('storage')).toMatchObject({ failed: 2, waiting: 0 });
    expect(recorder.calls.filter(({ call }) => call === 'failed')).toHaveLength(2);
  });

  it('lists a failed job that is not a step with no step', async () => {
    const queues = fresh();
    const request = generation();
    startTestWorker('generation', {
      'generate-image': async () => {
        throw new PermanentJobError('provider_blocked', 'blocked by the model');
      },
    });
    await queues.enqueue({ last: request });
    await until(
      () => queues.failed('generation', 10),
      (failed) => failed.length > 0,
    );
    expect(await queues.failed('generation', 10)).toEqual([
      {
        jobId: request.payload.jobId,
        queueJobId: request.payload.jobId,
        name: 'generate-image',
        step: null,
        reason: 'blocked by the model',
        attempts: 1,
        failedAt: expect.any(Date),
      },
    ]);
  });

  it('retries a webhook delivery on its own schedule (15 tries, capped exponential), once however often it is queued', async () => {
    const queues = new QueueRepository({
      connection: producer,
      prefix: `${FILE_PREFIX}-${++testCount}`,
      retry: { ...RETRY, webhookBackoffMs: 20 },
    });
    prefix = `${FILE_PREFIX}-${testCount}`;
    repository = queues;
    const recorder = memoryRecorder();
    const tries: number[] = [];
    startTestWorker(
      'webhooks',
      {
        'deliver-webhook': async () => {
          tries.push(Date.now());
          // More failures than the general policy's 3 tries allow: only the webhook schedule lets it through.
          if (tries.length < 5) throw new Error('receiver answered 500');
          return { statusCode: 204, durationMs: 1 };
        },
      },
      recorder,
    );
    const delivery: JobRequest = { name: 'deliver-webhook', payload: { jobId: randomUUID() } };
    await queues.add(delivery);
    await queues.add(delivery);
    await until(
      async () => recorder.calls.filter(({ call }) => call === 'completed').length,
      (completed) => completed === 1,
    );
    expect(tries).toHaveLength(5);
    expect(recorder.calls.filter(({ call }) => call === 'retrying')).toHaveLength(4);
    // The waits double: 20, 40, 80, 160 ms, each cut by at most a fifth.
    const waits = tries.slice(1).map((at, i) => at - (tries[i] ?? 0));
    expect(waits[3]).toBeGreaterThanOrEqual(128);
    expect(await queues.state(delivery)).toMatchObject({ state: 'completed', attemptsMade: 5 });
  });
});
