import { randomBytes, randomUUID } from 'node:crypto';
import {
  type AttemptCount,
  type GenerateImageResult,
  type JobErrorRecord,
  type JobRef,
  type JobRequest,
  type JobStartOutcome,
  PermanentJobError,
} from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { UnrecoverableError } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type Redis } from './connection.ts';
import { describeFailure } from './errors.ts';
import { QueueRepository, type RetryPolicy } from './queue-repository.ts';
import { type HandlerMap, type JobChange, type JobStateRecorder, type QueueWorker, startWorker } from './worker.ts';

// The global setup (libs/testing) provides it; libs/queue cannot depend on @mediaflow/testing.
declare module 'vitest' {
  interface ProvidedContext {
    redisUrl: string;
  }
}

describe('describeFailure', () => {
  it('lets a classified error speak for itself', () => {
    expect(describeFailure(new PermanentJobError('invalid_input', 'bad prompt'))).toEqual({
      code: 'invalid_input',
      message: 'bad prompt',
      retryable: false,
    });
    const quota = Object.assign(new Error('quota used up'), { code: 'provider_quota', retryable: true });
    expect(describeFailure(quota)).toEqual({ code: 'provider_quota', message: 'quota used up', retryable: true });
  });

  it('reports an UnrecoverableError as a final internal error, its message unchanged', () => {
    expect(describeFailure(new UnrecoverableError('no handler'))).toEqual({
      code: 'internal',
      message: 'no handler',
      retryable: false,
    });
  });

  it('reports anything else as a passing internal error, in words that give nothing of the insides away', () => {
    expect(describeFailure(new Error('connect ECONNREFUSED /var/run/postgresql/.s.PGSQL.5432'), 'req-7')).toEqual({
      code: 'internal',
      message: "an internal error stopped this attempt; the service's logs have the details under request id req-7",
      retryable: true,
    });
    expect(describeFailure('oops')).toEqual({
      code: 'internal',
      message: 'an internal error stopped this attempt',
      retryable: true,
    });
    // Not an Error, so not classified, however it looks.
    expect(describeFailure({ code: 'invalid_input', retryable: false })).toMatchObject({
      code: 'internal',
      retryable: true,
    });
    // An Error whose code is not a string (a Node system error's errno, say) is not classified either.
    expect(describeFailure(Object.assign(new Error('x'), { code: 5, retryable: false }))).toMatchObject({
      code: 'internal',
      retryable: true,
    });
  });
});

type Call =
  | { call: 'active'; ref: JobRef }
  | { call: 'completed'; ref: JobRef; result: unknown }
  | { call: 'retrying'; ref: JobRef; error: JobErrorRecord; counted?: true }
  | { call: 'failed'; ref: JobRef; error: JobErrorRecord; counted?: true }
  | { call: 'waiting'; ref: JobRef; note: JobErrorRecord; uncount: boolean };

/**
 * The jobs table, in memory: every call in order; `active` answers markActive (one answer per call), and
 * `reachable` says whether the database answers a ping.
 */
function memoryRecorder(
  active: Array<JobStartOutcome | Error> = [],
): JobStateRecorder & { calls: Call[]; reachable: boolean } {
  const calls: Call[] = [];
  const recorder = {
    calls,
    reachable: true,
    markActive: async (ref: JobRef) => {
      calls.push({ call: 'active', ref });
      const answer = active.shift() ?? 'started';
      if (answer instanceof Error) throw answer;
      return answer;
    },
    markWaiting: async (ref: JobRef, note: JobErrorRecord, options: { uncount: boolean }) => {
      calls.push({ call: 'waiting', ref, note, uncount: options.uncount });
    },
    ping: async () => {
      if (!recorder.reachable) throw new Error('connection refused');
    },
    markCompleted: async (ref: JobRef, result: unknown) => {
      calls.push({ call: 'completed', ref, result });
      return { jobCompleted: ref.step === undefined, deliveries: [] };
    },
    // `counted`: the attempt is counted here, its start having recorded nothing.
    markRetrying: async (ref: JobRef, error: JobErrorRecord, options?: AttemptCount) => {
      calls.push({ call: 'retrying', ref, error, ...(options?.countAttempt ? { counted: true as const } : {}) });
    },
    markFailed: async (ref: JobRef, error: JobErrorRecord, options?: AttemptCount) => {
      calls.push({ call: 'failed', ref, error, ...(options?.countAttempt ? { counted: true as const } : {}) });
      return [`delivery-of-${ref.jobId}`];
    },
  };
  return recorder;
}

const generation = (jobId = randomUUID()) =>
  ({
    name: 'generate-image',
    payload: { jobId, ownerId: 'alice', prompt: 'a fox', hasReference: false },
  }) satisfies JobRequest;

const generated = (jobId: string): GenerateImageResult => ({
  assetId: `asset-of-${jobId}`,
  url: `http://media.test/${jobId}.jpg`,
  provider: 'local',
  width: 1024,
  height: 1024,
  aspectRatio: '1:1',
  format: 'jpg',
});

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last seen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('startWorker on Redis', () => {
  const filePrefix = `{mf-test-${randomBytes(4).toString('hex')}}`;
  let producer: Redis;
  let workerConnection: Redis;
  let testCount = 0;
  let queues: QueueRepository | undefined;
  let worker: QueueWorker | undefined;

  beforeAll(() => {
    producer = createRedis(inject('redisUrl'), 'producer');
    workerConnection = createRedis(inject('redisUrl'), 'worker');
  });

  afterEach(async () => {
    await worker?.close(true);
    await queues?.close();
    worker = undefined;
    queues = undefined;
  });

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await workerConnection.scan(cursor, 'MATCH', `${filePrefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await workerConnection.del(...keys);
    } while (cursor !== '0');
    producer.disconnect();
    workerConnection.disconnect();
  });

  /** Queues of this test's own, with a worker on one of them. */
  function run<Q extends 'generation' | 'persistence'>(
    queue: Q,
    handlers: HandlerMap<Q, { tag: string }>,
    recorder: JobStateRecorder,
    retry: RetryPolicy = { attempts: 3, backoffMs: 10 },
    maxPerMinute?: number,
    onChange?: (change: JobChange) => void,
  ): QueueRepository {
    const prefix = `${filePrefix}-${++testCount}`;
    queues = new QueueRepository({ connection: producer, prefix, retry });
    worker = startWorker({
      queue,
      handlers,
      deps: { tag: 'the deps' },
      connection: workerConnection,
      prefix,
      concurrency: 1,
      lockMs: 30_000,
      recorder,
      logger: silentLogger,
      maxPerMinute,
      onChange,
    });
    return queues;
  }

  const ended = (recorder: { calls: Call[] }) =>
    until(
      () => recorder.calls,
      (calls) => calls.some(({ call }) => call === 'completed' || call === 'failed'),
    );

  it("records a handler's result as completed, and gives the handler its payload, context and deps", async () => {
    const recorder = memoryRecorder();
    const seen: unknown[] = [];
    const queues = run(
      'generation',
      {
        'generate-image': async (payload, deps) => {
          seen.push(payload, deps);
          return generated(payload.jobId);
        },
      },
      recorder,
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request, context: { requestId: 'req-1' } });
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      { call: 'completed', ref: { jobId }, result: generated(jobId) },
    ]);
    expect(seen).toEqual([{ ...request.payload, context: { requestId: 'req-1' } }, { tag: 'the deps' }]);
    await until(
      () => queues.state(request),
      (state) => state?.state === 'completed',
    );
  });

  it('records a retryable failure as retrying, then completed on the next attempt', async () => {
    const recorder = memoryRecorder();
    let attempts = 0;
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          attempts += 1;
          if (attempts === 1) throw new Error('connection reset');
          return generated(payload.jobId);
        },
      },
      recorder,
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      {
        call: 'retrying',
        ref: { jobId },
        error: { code: 'internal', message: 'an internal error stopped this attempt', retryable: true },
      },
      { call: 'active', ref: { jobId } },
      { call: 'completed', ref: { jobId }, result: generated(jobId) },
    ]);
    expect(attempts).toBe(2);
  });

  it('records a retryable failure on the last attempt as failed', async () => {
    const recorder = memoryRecorder();
    const queues = run(
      'generation',
      {
        'generate-image': async () => {
          throw new Error('still down');
        },
      },
      recorder,
      { attempts: 2, backoffMs: 10 },
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await ended(recorder);
    const error = { code: 'internal', message: 'an internal error stopped this attempt', retryable: true };
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      { call: 'retrying', ref: { jobId }, error },
      { call: 'active', ref: { jobId } },
      { call: 'failed', ref: { jobId }, error },
    ]);
    await until(
      () => queues.failed('generation', 10),
      (failed) => failed.length === 1,
    );
    expect(await queues.failed('generation', 10)).toMatchObject([{ jobId, attempts: 2, reason: 'still down' }]);
  });

  it('fails a PermanentJobError at once, with its code, though retries are left', async () => {
    const recorder = memoryRecorder();
    let attempts = 0;
    const queues = run(
      'persistence',
      {
        'persist-post': async () => {
          attempts += 1;
          throw new PermanentJobError('invalid_input', 'the brand is gone');
        },
        'persist-blog': () => Promise.reject(new Error('not used here')),
      },
      recorder,
      { attempts: 5, backoffMs: 10 },
    );
    const jobId = randomUUID();
    const request: JobRequest = {
      name: 'persist-post',
      payload: { jobId, step: 2, authorId: 'a', brandId: 'b', caption: 'c', scheduledAt: null, mediaSteps: [] },
    };
    await queues.add(request);
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId, step: 2 } },
      {
        call: 'failed',
        ref: { jobId, step: 2 },
        error: { code: 'invalid_input', message: 'the brand is gone', retryable: false },
      },
    ]);
    await until(
      () => queues.state(request),
      (state) => state?.state === 'failed',
    );
    expect(await queues.failed('persistence', 10)).toMatchObject([
      { jobId, step: 2, attempts: 1, reason: 'the brand is gone' },
    ]);
    expect(attempts).toBe(1);
  });

  it('fails a job its queue has no handler for at once', async () => {
    const recorder = memoryRecorder();
    const ran: string[] = [];
    const queues = run(
      'persistence',
      // A worker built without one of its handlers (the type check would normally refuse it).
      {
        'persist-post': async () => {
          ran.push('persist-post');
          throw new Error('not this one');
        },
      } as unknown as HandlerMap<'persistence', { tag: string }>,
      recorder,
    );
    const jobId = randomUUID();
    const request: JobRequest = {
      name: 'persist-blog',
      payload: {
        jobId,
        step: 0,
        authorId: 'a',
        title: 't',
        imageAlt: null,
        bannerStep: null,
        featuredStep: null,
      },
    };
    await queues.add(request);
    await until(
      () => queues.state(request),
      (state) => state?.state === 'failed',
    );
    expect(await queues.failed('persistence', 10)).toMatchObject([
      { jobId, name: 'persist-blog', attempts: 1, reason: 'queue "persistence" has no handler for job "persist-blog"' },
    ]);
    expect(ran).toEqual([]);
    expect(recorder.calls.filter(({ call }) => call === 'completed' || call === 'retrying')).toEqual([]);
  });

  it('does not run the handler when markActive says there is nothing to run', async () => {
    const recorder = memoryRecorder(['ended']);
    const ran: string[] = [];
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          ran.push(payload.jobId);
          return generated(payload.jobId);
        },
      },
      recorder,
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await until(
      () => queues.state(request),
      (state) => state?.state === 'failed',
    );
    // Read again: state() reads the job before its state, so the read that saw it fail may predate its reason.
    expect(await queues.state(request)).toMatchObject({
      state: 'failed',
      failedReason: `job ${jobId} is not waiting to run; nothing to do`,
    });
    expect(ran).toEqual([]);
    // Only the one question: no retry, and nothing recorded over the row's own state.
    expect(recorder.calls).toEqual([{ call: 'active', ref: { jobId } }]);
    expect(await queues.failed('generation', 10)).toMatchObject([{ attempts: 1 }]);
  });

  it('a start that cannot be recorded while PostgreSQL answers is a failed attempt like any other', async () => {
    const recorder = memoryRecorder([new Error('deadlock detected')]);
    const queues = run('generation', { 'generate-image': async (payload) => generated(payload.jobId) }, recorder);
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      { call: 'active', ref: { jobId } },
      { call: 'completed', ref: { jobId }, result: generated(jobId) },
    ]);
    // The failed attempt and the one that completed.
    expect(await attemptsMade(queues, request)).toBe(2);
  });

  it('puts a job back without counting an attempt while PostgreSQL is away, notes it as waiting, and runs it when it is back', async () => {
    const recorder = memoryRecorder([new Error('connection refused')]);
    recorder.reachable = false;
    const ran: string[] = [];
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          ran.push(payload.jobId);
          return generated(payload.jobId);
        },
      },
      recorder,
      { attempts: 1, backoffMs: 10 },
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await until(
      () => queues.state(request),
      (state) => state?.state === 'delayed',
    );
    // Away for a while: the job waits, and nothing is recorded (there is nowhere to record it).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ran).toEqual([]);
    expect(recorder.calls).toEqual([{ call: 'active', ref: { jobId } }]);
    recorder.reachable = true;
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      {
        call: 'waiting',
        ref: { jobId },
        note: { code: 'dependency_unavailable', message: 'waiting for the database to come back', retryable: true },
        // Its start was never recorded, so there is no attempt to take back.
        uncount: false,
      },
      { call: 'active', ref: { jobId } },
      { call: 'completed', ref: { jobId }, result: generated(jobId) },
    ]);
    // One attempt allowed, and it is the one that completed: none was spent on the outage.
    expect(await attemptsMade(queues, request)).toBe(1);
  });

  it('does not charge an attempt that failed while PostgreSQL was away', async () => {
    const recorder = memoryRecorder();
    let runs = 0;
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          runs++;
          if (runs === 1) {
            recorder.reachable = false;
            setTimeout(() => {
              recorder.reachable = true;
            }, 800);
            throw new Error('Connection terminated unexpectedly');
          }
          return generated(payload.jobId);
        },
      },
      recorder,
      { attempts: 1, backoffMs: 10 },
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await ended(recorder);
    expect(recorder.calls.map(({ call }) => call)).toEqual(['active', 'waiting', 'active', 'completed']);
    // The run that failed with the database away had its attempt counted at its start: it is taken back.
    expect(recorder.calls[1]).toMatchObject({ call: 'waiting', uncount: true });
    expect(recorder.calls.at(-1)).toEqual({ call: 'completed', ref: { jobId }, result: generated(jobId) });
    expect(runs).toBe(2);
  });

  it('a provider quota pauses the whole queue for the delay it asks, and the job runs again without an attempt', async () => {
    const recorder = memoryRecorder();
    const calls: number[] = [];
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          calls.push(Date.now());
          if (calls.length === 1) {
            throw Object.assign(new Error('quota'), {
              code: 'provider_quota',
              retryable: true,
              retryAfterMs: 400,
              provider: 'gemini',
            });
          }
          return generated(payload.jobId);
        },
      },
      recorder,
      { attempts: 1, backoffMs: 10 },
    );
    const request = generation();
    const { jobId } = request.payload;
    await queues.enqueue({ last: request });
    await ended(recorder);
    expect(recorder.calls).toEqual([
      { call: 'active', ref: { jobId } },
      {
        call: 'waiting',
        ref: { jobId },
        note: { code: 'provider_quota', message: 'quota', retryable: true },
        uncount: true,
      },
      { call: 'active', ref: { jobId } },
      { call: 'completed', ref: { jobId }, result: generated(jobId) },
    ]);
    const [first = 0, second = 0] = calls;
    expect(second - first).toBeGreaterThanOrEqual(400);
    // Only the run that completed counts: the quota cost none.
    expect(await attemptsMade(queues, request)).toBe(1);
  });

  it('starts no more jobs a minute than maxPerMinute allows', async () => {
    const recorder = memoryRecorder();
    const queues = run(
      'generation',
      { 'generate-image': async (payload) => generated(payload.jobId) },
      recorder,
      undefined,
      2,
    );
    for (let i = 0; i < 4; i++) await queues.enqueue({ last: generation() });
    await until(
      () => recorder.calls.filter(({ call }) => call === 'completed').length,
      (completed) => completed === 2,
    );
    // The minute is far from over: the other two wait.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(recorder.calls.filter(({ call }) => call === 'active')).toHaveLength(2);
    expect(await queues.counts('generation')).toMatchObject({ waiting: 2, completed: 2 });
  });

  describe('a handler that commits its own start and end', () => {
    const persistPost = (jobId: string): JobRequest => ({
      name: 'persist-post',
      payload: { jobId, step: 2, authorId: 'a', brandId: 'b', caption: 'c', scheduledAt: null, mediaSteps: [] },
    });
    const posted = { postId: 'p1', media: [] };

    it('records neither its start nor its end, and passes on the deliveries its commit wrote', async () => {
      const recorder = memoryRecorder();
      const changes: JobChange[] = [];
      const queues = run(
        'persistence',
        {
          'persist-post': {
            inOwnCommit: async (payload, deps) => {
              expect(deps).toEqual({ tag: 'the deps' });
              expect(payload).toMatchObject({ step: 2 });
              return { start: 'started', result: posted, completion: { jobCompleted: true, deliveries: ['d1'] } };
            },
          },
          'persist-blog': () => Promise.reject(new Error('not used here')),
        },
        recorder,
        undefined,
        undefined,
        (change) => changes.push(change),
      );
      const request = persistPost(randomUUID());
      await queues.add(request);
      await until(
        () => queues.state(request),
        (state) => state?.state === 'completed',
      );
      expect(recorder.calls).toEqual([]);
      expect(changes).toEqual([
        { ref: { jobId: request.payload.jobId, step: 2 }, ended: 'completed', deliveries: ['d1'] },
      ]);
    });

    it('records its failure with the attempt counted, and the delivery its final failure wrote', async () => {
      const recorder = memoryRecorder();
      const changes: JobChange[] = [];
      let runs = 0;
      const queues = run(
        'persistence',
        {
          'persist-post': {
            inOwnCommit: async () => {
              runs += 1;
              throw new Error('deadlock detected');
            },
          },
          'persist-blog': () => Promise.reject(new Error('not used here')),
        },
        recorder,
        { attempts: 2, backoffMs: 10 },
        undefined,
        (change) => changes.push(change),
      );
      const request = persistPost(randomUUID());
      const ref = { jobId: request.payload.jobId, step: 2 };
      await queues.add(request);
      await ended(recorder);
      const error = { code: 'internal', message: 'an internal error stopped this attempt', retryable: true };
      expect(recorder.calls).toEqual([
        { call: 'retrying', ref, error, counted: true },
        { call: 'failed', ref, error, counted: true },
      ]);
      expect(changes).toEqual([{ ref }, { ref, ended: 'failed', deliveries: [`delivery-of-${ref.jobId}`] }]);
      expect(runs).toBe(2);
    });

    it('fails at once, recording nothing, when its commit finds the job ended', async () => {
      const recorder = memoryRecorder();
      const queues = run(
        'persistence',
        {
          'persist-post': { inOwnCommit: async () => ({ start: 'ended' }) },
          'persist-blog': () => Promise.reject(new Error('not used here')),
        },
        recorder,
      );
      const request = persistPost(randomUUID());
      await queues.add(request);
      await until(
        () => queues.state(request),
        (state) => state?.state === 'failed',
      );
      expect(await queues.state(request)).toMatchObject({
        failedReason: `job ${request.payload.jobId} is not waiting to run; nothing to do`,
      });
      expect(recorder.calls).toEqual([]);
    });
  });

  it('completes quietly a job that PostgreSQL says has completed already (its completion was lost)', async () => {
    const recorder = memoryRecorder(['completed']);
    const ran: string[] = [];
    const queues = run(
      'generation',
      {
        'generate-image': async (payload) => {
          ran.push(payload.jobId);
          return generated(payload.jobId);
        },
      },
      recorder,
    );
    const request = generation();
    await queues.enqueue({ last: request });
    await until(
      () => queues.state(request),
      (state) => state?.state === 'completed',
    );
    expect(ran).toEqual([]);
  });
});

/** How many attempts BullMQ has charged the job: each that ended, failed or completed. */
async function attemptsMade(queues: QueueRepository, request: JobRequest): Promise<number | undefined> {
  return (await queues.state(request))?.attemptsMade;
}
