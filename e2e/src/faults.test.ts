import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@mediaflow/config';
import { GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import type { QueueName } from '@mediaflow/domain';
import { createLogger } from '@mediaflow/logger';
import { reconcile } from '@mediaflow/maintenance';
import {
  type FakeCloudinary,
  type FakeGemini,
  type FakeImageKit,
  makeImage,
  type ServiceProcess,
  spawnService,
  startFakeCloudinary,
  startFakeGemini,
  startFakeImageKit,
  startPrivateRedis,
  startProxy,
} from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { type JobStatus, type Stack, startStack } from './stack.ts';

/**
 * The fault-injection suite: each test injects one fault and checks that every accepted submission
 * still ends in exactly one result. The last line it prints sums them up.
 *
 * Every fault case is in this one file, the long outages included, so that this one line covers them all
 * (vitest runs each file in a worker of its own: two files could only print two lines). The long outages
 * wait minutes but are idle most of it, so the PostgreSQL and Redis ones run side by side (a concurrent
 * group); the Gemini quota storm runs alone, since it judges calls by when they arrived.
 */
interface Outcome {
  fault: string;
  survived: boolean;
  lost: number;
  duplicated: number;
}
const outcomes: Outcome[] = [];
const logger = createLogger({ service: 'faults', level: 'silent' });

/**
 * Counts a fault as injected the moment its case starts, and as not survived: a case that fails or times
 * out stays so. It survives when its case passes, every check of it within its timeout. `lost` and
 * `duplicated` are filled in by whatever judges its rows.
 */
function injectFault(test: TestContext, fault: string): Outcome {
  const outcome: Outcome = { fault, survived: false, lost: 0, duplicated: 0 };
  outcomes.push(outcome);
  test.onTestFinished(({ task }) => {
    outcome.survived = task.result?.state === 'pass';
  });
  return outcome;
}

afterAll(() => {
  const sum = (key: 'lost' | 'duplicated') => outcomes.reduce((total, outcome) => total + outcome[key], 0);
  const survived = outcomes.filter((outcome) => outcome.survived).length;
  process.stdout.write(
    `\nfaults: ${outcomes.length} injected, ${survived} survived, ${sum('lost')} lost, ${sum('duplicated')} duplicated\n`,
  );
  expect(sum('lost')).toBe(0);
  expect(sum('duplicated')).toBe(0);
  expect(survived).toBe(outcomes.length);
});

type ResultTable = 'generated_assets' | 'posts';

/** Judges one fault by the rows its work left: exactly one is right, none is lost, more is duplicated. */
async function judge(outcome: Outcome, stack: Stack, jobId: string, table: ResultTable, user = 'user-1') {
  const [job] = await judgeAll(outcome, stack, [jobId], table, { user, timeoutMs: 50_000 });
  return job as JobStatus;
}

/** Waits for every job to end (within one deadline), then judges each by its rows as `judge` does. */
async function judgeAll(
  outcome: Outcome,
  stack: Stack,
  jobIds: string[],
  table: ResultTable,
  { user = 'user-1', timeoutMs }: { user?: string; timeoutMs: number },
): Promise<JobStatus[]> {
  const deadline = Date.now() + timeoutMs;
  const jobs: JobStatus[] = [];
  for (const jobId of jobIds) jobs.push(await stack.waitForJob(jobId, user, Math.max(1, deadline - Date.now())));
  const verdicts = [];
  for (const job of jobs) {
    const rows = await countRows(stack, table, job.jobId);
    outcome.lost += rows === 0 ? 1 : 0;
    outcome.duplicated += Math.max(0, rows - 1);
    verdicts.push({ jobId: job.jobId, status: job.status, rows, ...(job.error && { error: job.error }) });
  }
  expect(verdicts).toEqual(jobs.map((job) => ({ jobId: job.jobId, status: 'completed', rows: 1 })));
  return jobs;
}

async function countRows(stack: Stack, table: ResultTable, jobId: string): Promise<number> {
  return (await stack.database.db.selectFrom(table).select('id').where('jobId', '=', jobId).execute()).length;
}

async function generate(stack: Stack, prompt = 'a storm'): Promise<string> {
  const response = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt } });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { jobId: string }).jobId;
}

async function post(stack: Stack, brandId: string): Promise<string> {
  const form = new FormData();
  form.append('caption', 'under fire');
  form.append('brandId', brandId);
  form.append('media', new Blob([await makeImage(40, 30)]), 'a.png');
  const response = await stack.request('POST', '/api/posts', { form });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { jobId: string }).jobId;
}

async function createBrand(stack: Stack): Promise<string> {
  return ((await (await stack.request('POST', '/api/brands', { json: { name: 'Faults' } })).json()) as { id: string })
    .id;
}

describe('provider outages', () => {
  let gemini: FakeGemini;
  let cloudinary: FakeCloudinary;
  let imagekit: FakeImageKit;
  let stack: Stack;
  let brandId: string;

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    imagekit = await startFakeImageKit({ privateKey: 'private_test_key' });
    stack = await startStack({ gemini, cloudinary, imagekit, env: { GEMINI_TIMEOUT_MS: '1000' } });
    brandId = await createBrand(stack);
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([gemini.close(), cloudinary.close(), imagekit.close()]);
  });

  it('Gemini rate limiting (429 twice)', async (test) => {
    const outcome = injectFault(test, 'gemini 429');
    // With the retry delay a real 429 names: without one the queue would wait its default of 30 s and more.
    gemini.script({ kind: 'error', status: 429, retryDelayS: 1 }, { kind: 'error', status: 429, retryDelayS: 1 });
    await judge(outcome, stack, await generate(stack), 'generated_assets');
  });

  it('Gemini unavailable (503)', async (test) => {
    const outcome = injectFault(test, 'gemini 503');
    gemini.script({ kind: 'error', status: 503 });
    await judge(outcome, stack, await generate(stack), 'generated_assets');
  });

  it('Gemini not answering (timeout)', async (test) => {
    const outcome = injectFault(test, 'gemini timeout');
    gemini.script({ kind: 'hang' });
    await judge(outcome, stack, await generate(stack), 'generated_assets');
  });

  it('Cloudinary failing uploads (500s): ImageKit takes them', async (test) => {
    const outcome = injectFault(test, 'cloudinary upload 500');
    cloudinary.failNextOn('upload', 3, 500);
    const job = await judge(outcome, stack, await generate(stack), 'generated_assets');
    expect(job.result).toMatchObject({ provider: 'imagekit' });
  });

  it('Cloudinary failing promotions (500s): ImageKit takes them', async (test) => {
    const outcome = injectFault(test, 'cloudinary rename 500');
    cloudinary.failNextOn('rename', 3, 500);
    await judge(outcome, stack, await post(stack, brandId), 'posts');
  });
});

describe('Redis outages (a redis-server of this suite, on a spare port)', () => {
  it('Redis unreachable at submit: 503 and nothing half-written; Redis restarted empty: accepted work completes once', async (test) => {
    const atSubmit = injectFault(test, 'redis down at submit');
    const restarted = injectFault(test, 'redis restart lost the queue');
    // Where the case was, should it fail or time out (it once timed out at 60 s in a whole-file run).
    let at = 'starting';
    test.onTestFailed(() => {
      process.stderr.write(`redis down at submit / restarted empty: failed while ${at}\n`);
    });
    const redis = await startPrivateRedis();
    const stack = await startStack({ redisUrl: redis.url });
    try {
      const brandId = await createBrand(stack);
      at = 'submitting with Redis down';
      await redis.kill();
      const submit = () =>
        stack.request('POST', '/api/ai-agent/generate-image', {
          json: { prompt: 'nobody home' },
          headers: { 'idempotency-key': 'redis-down-1' },
        });
      const refused = await submit();
      expect(refused.status).toBe(503);
      const rows = await stack.database.db.selectFrom('jobs').select('id').execute();
      atSubmit.duplicated = rows.length;
      expect(rows).toEqual([]);
      at = 'starting Redis again';
      await redis.start();
      for (let i = 0; i < 100 && stack.redis.producer.status !== 'ready'; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      at = 'submitting again, and waiting for the generation';
      // The refusal kept nothing under its Idempotency-Key: the same request now does the work, once.
      const retried = await submit();
      expect(retried.status).toBe(202);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
      const accepted = (await retried.json()) as { jobId: string; eventsUrl?: string };
      const replayed = await submit();
      // The same answer, but for the eventsUrl's token, which is made afresh for each answer.
      const again = (await replayed.json()) as typeof accepted;
      expect({ ...again, eventsUrl: undefined }).toEqual({ ...accepted, eventsUrl: undefined });
      expect(replayed.headers.get('idempotent-replayed')).toBe('true');
      expect((await stack.waitForJob(accepted.jobId, 'user-1')).status).toBe('completed');
      // The outage above left every worker's blocking connection reconnecting with BullMQ's backoff (up to
      // 20 s a try): a post through every worker shows they are all back before the next outage starts,
      // so that the two cases do not add up their reconnection times.
      at = 'a post through every worker after the first outage';
      expect((await stack.waitForJob(await post(stack, brandId), 'user-1', 45_000)).status).toBe('completed');
      at = 'pausing the workers, posting, restarting Redis empty';
      await stack.pauseWorkers();
      const jobId = await post(stack, brandId);
      await redis.kill();
      await redis.start();
      stack.resumeWorkers();
      at = 'reconciling';
      for (let i = 0; i < 100 && stack.redis.producer.status !== 'ready'; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const deps = { jobs: new JobsRepository(stack.database.db), queues: stack.queues, logger };
      expect(await reconcile(deps, 0)).toBe(1);
      at = 'waiting for the re-queued post';
      await judge(restarted, stack, jobId, 'posts');
    } finally {
      at = `${at}, then stopping the stack`;
      await stack.stop();
      await redis.kill();
    }
  }, 150_000);
});

describe('crashes and outages of the workers (each its own process)', () => {
  let gemini: FakeGemini;
  let stack: Stack;
  const processEnv = () => ({
    ...stack.env,
    LOG_LEVEL: 'warn',
    JOB_LOCK_MS: '1000',
    JOB_BACKOFF_MS: '200',
    JOB_ATTEMPTS: '12',
  });

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    stack = await startStack({ gemini, inProcessWorkers: false });
  });
  afterAll(async () => {
    await stack.stop();
    await gemini.close();
  });

  async function waitFor(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(check(), what).toBe(true);
  }

  it('a generator killed (SIGKILL) mid-generation: another one runs the job again', async (test) => {
    const outcome = injectFault(test, 'generator SIGKILL');
    gemini.requests.length = 0;
    gemini.script({ kind: 'slow', ms: 5_000 });
    const first = spawnService('generator', processEnv());
    reapProcesses(test, [first]);
    const jobId = await generate(stack, 'killed midway');
    await waitFor(() => gemini.requests.length === 1, 'the first generator called Gemini');
    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnService('generator', processEnv());
    reapProcesses(test, [second]);
    try {
      const job = await judge(outcome, stack, jobId, 'generated_assets');
      expect(job.attempts).toBe(2);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 60_000);

  it('PostgreSQL unreachable for the persistence worker: the write waits and completes once it is back', {
    timeout: 60_000,
  }, async (test) => {
    const outcome = injectFault(test, 'postgres down for persistence');
    const database = new URL(stack.env.DATABASE_URL ?? '');
    const proxy = await startProxy(Number(database.port || 5432), database.hostname);
    const throughProxy = new URL(database);
    throughProxy.port = String(proxy.port);
    const storage = spawnService('storage', processEnv());
    const persistence = spawnService('persistence', { ...processEnv(), DATABASE_URL: throughProxy.toString() });
    try {
      proxy.cut();
      const jobId = await post(stack, await createBrand(stack));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(
        (await stack.database.db.selectFrom('posts').select('id').where('jobId', '=', jobId).execute()).length,
      ).toBe(0);
      proxy.restore();
      await judge(outcome, stack, jobId, 'posts').catch(async (error: unknown) => {
        const status = await (await stack.request('GET', `/api/jobs/${jobId}`)).text();
        const [job] = await stack.database.db.selectFrom('jobs').select('payload').where('id', '=', jobId).execute();
        const plan = job?.payload;
        const promote = plan?.first?.[0] && (await stack.queues.state(plan.first[0]));
        const persist = plan && (await stack.queues.state(plan.last));
        const states = `promote: ${promote?.state} ${promote?.failedReason ?? ''}; persist: ${persist?.state} ${persist?.failedReason ?? ''}`;
        throw new Error(
          `${String(error)}\n${status}\n${states}\npersistence said:\n${persistence.output()}\nstorage said:\n${storage.output()}`,
        );
      });
    } finally {
      storage.child.kill('SIGTERM');
      persistence.child.kill('SIGTERM');
      await Promise.all([storage.exited, persistence.exited]);
      await proxy.close();
    }
  });

  it('a storage worker killed (SIGKILL) mid-promotion: the promotion runs again, one permanent copy', async (test) => {
    const outcome = injectFault(test, 'storage SIGKILL mid-promotion');
    const cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    const cloudStack = await startStack({ cloudinary, inProcessWorkers: false });
    const env = {
      ...cloudStack.env,
      LOG_LEVEL: 'warn',
      JOB_LOCK_MS: '1000',
      JOB_BACKOFF_MS: '200',
      JOB_ATTEMPTS: '12',
    };
    const persistence = spawnService('persistence', env);
    const first = spawnService('storage', env);
    let second: ReturnType<typeof spawnService> | undefined;
    try {
      // Cloudinary holds the move of the uploaded file to auto/ while the worker that asked for it dies.
      cloudinary.slowNextOn('rename', 3_000);
      const jobId = await post(cloudStack, await createBrand(cloudStack));
      await waitFor(
        () => cloudinary.arrivals.rename === 1,
        'the first storage worker asked Cloudinary to move the file',
      );
      first.child.kill('SIGKILL');
      await first.exited;
      second = spawnService('storage', env);
      const job = await judge(outcome, cloudStack, jobId, 'posts');
      expect(job.steps?.[0]?.attempts, 'the promotion ran a second time').toBeGreaterThanOrEqual(2);
      const media = await cloudStack.database.db.selectFrom('media').select(['url', 'provider']).execute();
      expect(media).toHaveLength(1);
      // The file exists once, in its permanent folder; nothing is left in the temporary one.
      const files = cloudinary.assets().map((asset) => asset.publicId);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^auto\//);
      expect(media[0]?.url).toContain(files[0]);
    } finally {
      // The first storage worker too, in case the case failed before killing it.
      first.child.kill('SIGKILL');
      for (const worker of [persistence, second].filter((w) => w !== undefined)) worker.child.kill('SIGTERM');
      await Promise.all([first.exited, persistence.exited, second?.exited]);
      await cloudStack.stop();
      await cloudinary.close();
    }
  }, 60_000);

  it('SIGTERM mid-generation: the worker finishes the job, then exits 0', async (test) => {
    const outcome = injectFault(test, 'SIGTERM mid-job');
    gemini.requests.length = 0;
    gemini.script({ kind: 'slow', ms: 1_000 });
    const generator = spawnService('generator', processEnv());
    reapProcesses(test, [generator]);
    const jobId = await generate(stack, 'finish before leaving');
    await waitFor(() => gemini.requests.length === 1, 'the generator called Gemini');
    generator.child.kill('SIGTERM');
    expect(await generator.exited, generator.output()).toBe(0);
    const assets = new GeneratedAssetsRepository(stack.database.db);
    expect(await assets.findByJob(jobId)).toBeDefined();
    await judge(outcome, stack, jobId, 'generated_assets');
  }, 60_000);
});

/*
 * Long outages, with the project's defaults for attempts, backoff and locks (JOB_ATTEMPTS=5,
 * JOB_BACKOFF_MS=2000, JOB_LOCK_MS=30000, not shortened as above): an outage must cost no attempt however
 * long it lasts, and the workers must come back by themselves. The workers are processes, as deployed.
 */

/** Unset (an empty value counts as unset): the gateway queues jobs, and the workers run them, on the defaults. */
const PROJECT_DEFAULTS = { JOB_ATTEMPTS: '', JOB_BACKOFF_MS: '', JOB_LOCK_MS: '' };

/** Polls until `check` holds, or fails saying `what` did not happen. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function pollJob(stack: Stack, jobId: string, user = 'user-1'): Promise<JobStatus> {
  const response = await stack.request('GET', `/api/jobs/${jobId}`, { user });
  expect(response.status).toBe(200);
  return (await response.json()) as JobStatus;
}

/** Until every queue has a worker taking jobs. */
async function workersReady(stack: Stack, queues: Partial<Record<QueueName, number>>): Promise<void> {
  for (const [queue, count] of Object.entries(queues) as Array<[QueueName, number]>) {
    await until(async () => (await stack.queues.workerCount(queue)) >= count, `${count} ${queue} worker(s) up`);
  }
}

/**
 * A case's worker processes never outlive it: they are killed when it ends, however it ends, and at once
 * when it times out (vitest aborts it, but its code goes on running in the background). Those a case has
 * stopped itself are left alone.
 */
function reapProcesses(test: TestContext, processes: ServiceProcess[]): void {
  const kill = () => {
    for (const { child } of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  test.signal.addEventListener('abort', kill, { once: true });
  test.onTestFinished(kill);
}

/** SIGTERM, and SIGKILL for any that has not exited 20 s later. */
async function stopProcesses(processes: ServiceProcess[]): Promise<void> {
  await Promise.all(
    processes.map(async ({ child, exited }) => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Runs `body`; if it throws, what the worker processes said is added to the error. */
async function explained<T>(processes: Record<string, ServiceProcess>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const said = Object.entries(processes)
      .map(([name, worker]) => `--- ${name} said (last 4000 characters):\n${worker.output().slice(-4_000)}`)
      .join('\n');
    if (error instanceof Error) error.message = `${error.message}\n${said}`;
    throw error;
  }
}

/** A proxy in front of the stack's PostgreSQL, and the DATABASE_URL that goes through it. */
async function databaseProxy(stack: Stack) {
  const database = new URL(stack.env.DATABASE_URL ?? '');
  const proxy = await startProxy(Number(database.port || 5432), database.hostname);
  const throughProxy = new URL(database);
  throughProxy.port = String(proxy.port);
  return { proxy, url: throughProxy.toString() };
}

/** The largest number of `times` (ms) that fall within one window of `windowMs` (any start). */
function mostInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe('a Gemini quota storm (429 with a retry delay), generators as processes', () => {
  it('20 generations through 30 refusals: all complete, none charged for the quota, one call per process per delay', {
    timeout: 240_000,
  }, async (test) => {
    const outcome = injectFault(test, 'gemini 429 storm');
    const retryDelayMs = 2_000;
    // GENERATOR_CONCURRENCY's default with Gemini: how many calls a process sends before its first 429 is back.
    const { generatorConcurrency: concurrency } = loadConfig({ GEMINI_API_KEY: 'any' });
    // One API key per generator process: each call the fake records says which process made it.
    const keys = ['quota-key-a', 'quota-key-b'];
    const gemini = await startFakeGemini({ apiKey: keys });
    // JOB_ATTEMPTS=2: a refusal charged as an attempt would soon fail a job.
    const stack = await startStack({
      gemini,
      inProcessWorkers: false,
      env: { ...PROJECT_DEFAULTS, JOB_ATTEMPTS: '2' },
    });
    const generators = Object.fromEntries(
      keys.map((key) => [
        `generator ${key}`,
        spawnService('generator', { ...stack.env, LOG_LEVEL: 'warn', GEMINI_API_KEY: key }),
      ]),
    );
    reapProcesses(test, Object.values(generators));
    try {
      await explained(generators, async () => {
        await workersReady(stack, { generation: keys.length, storage: 0, persistence: 0 });
        gemini.script(
          ...Array.from({ length: 30 }, () => ({
            kind: 'error' as const,
            status: 429,
            retryDelayS: retryDelayMs / 1000,
          })),
        );
        const jobIds: string[] = [];
        for (let i = 0; i < 20; i++) jobIds.push(await generate(stack, `quota storm ${i}`));
        const jobs = await judgeAll(outcome, stack, jobIds, 'generated_assets', { timeoutMs: 180_000 });
        expect(
          jobs.filter((job) => job.attempts > 2).map(({ jobId, attempts }) => ({ jobId, attempts })),
          'attempts charged to a job (JOB_ATTEMPTS=2 would have failed it)',
        ).toEqual([]);

        const refused = gemini.requests.filter((request) => request.status === 429);
        expect(refused).toHaveLength(30);
        const start = refused[0]?.at ?? 0;
        const timeline = refused.map((request) => `${request.apiKey}@+${request.at - start}ms`).join(', ');
        // A process's first calls, one per slot, go out before its first 429 comes back: it cannot know yet
        // that the quota is out. From its last such call on, it calls at most once per retry delay; so in
        // any window shorter than the delay there is at most one call per process.
        const window = retryDelayMs - 100;
        const informed: number[] = [];
        for (const key of keys) {
          const times = refused.filter((request) => request.apiKey === key).map((request) => request.at);
          let blind = 0;
          while (blind < Math.min(concurrency, times.length) && (times[blind] ?? 0) - (times[0] ?? 0) < 1_000) blind++;
          const fromLastBlind = times.slice(Math.max(0, blind - 1));
          expect(
            mostInWindow(fromLastBlind, window),
            `calls of ${key} within ${window} ms; ${timeline}`,
          ).toBeLessThanOrEqual(1);
          informed.push(...fromLastBlind);
        }
        expect(mostInWindow(informed, window), `calls within ${window} ms; ${timeline}`).toBeLessThanOrEqual(
          keys.length,
        );
      });
    } finally {
      await stopProcesses(Object.values(generators));
      await stack.stop();
      await gemini.close();
    }
  });
});

describe.concurrent('PostgreSQL and Redis unreachable for minutes, workers as processes', () => {
  it('PostgreSQL unreachable for every worker for 120 s mid-post: written once, completed, attempts not grown', {
    timeout: 330_000,
  }, async (test) => {
    const outcome = injectFault(test, 'postgres unreachable 120 s mid-post');
    const gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    // Cloudinary, so that one promotion can be held while the outage starts: the post is mid-pipeline.
    const cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    // The gateway (in this process) talks to PostgreSQL directly; every worker goes through the proxy.
    const stack = await startStack({ gemini, cloudinary, inProcessWorkers: false, env: PROJECT_DEFAULTS });
    const { proxy, url } = await databaseProxy(stack);
    const env = { ...stack.env, LOG_LEVEL: 'warn', DATABASE_URL: url };
    const workers = {
      generator: spawnService('generator', env),
      storage: spawnService('storage', env),
      persistence: spawnService('persistence', env),
    };
    reapProcesses(test, Object.values(workers));
    try {
      await explained(workers, async () => {
        const brandId = await createBrand(stack);
        const generated = await stack.waitForJob(await generate(stack, 'an asset for the post'), 'user-1', 60_000);
        expect(generated.status, JSON.stringify(generated)).toBe('completed');
        const assetId = String(generated.result?.assetId);

        // The first promotion to reach Cloudinary is held 8 s: the outage starts while it is in flight.
        cloudinary.slowNextOn('rename', 8_000);
        const form = new FormData();
        form.append('caption', 'through a database outage');
        form.append('brandId', brandId);
        form.append('media', new Blob([await makeImage(40, 30)]), 'first.png');
        form.append('assetId', assetId);
        form.append('media', new Blob([await makeImage(30, 40)]), 'second.png');
        const response = await stack.request('POST', '/api/posts', { form });
        expect(response.status, await response.clone().text()).toBe(202);
        const { jobId } = (await response.json()) as { jobId: string };
        await until(
          async () => (await pollJob(stack, jobId)).steps?.some((step) => step.state === 'completed') ?? false,
          'a step of the post completed',
        );

        proxy.cut();
        const atCut = await pollJob(stack, jobId);
        expect(atCut.status, `mid-pipeline when PostgreSQL went away: ${JSON.stringify(atCut)}`).not.toBe('completed');
        const seen = new Set<string>();
        const outageEnds = Date.now() + 120_000;
        while (Date.now() < outageEnds) {
          const job = await pollJob(stack, jobId);
          seen.add(job.status);
          expect(job.status, JSON.stringify(job)).not.toBe('failed');
          await sleep(1_000, undefined, { signal: test.signal });
        }
        expect(await countRows(stack, 'posts', jobId), 'no post written while PostgreSQL was away').toBe(0);
        proxy.restore();

        const [job] = await judgeAll(outcome, stack, [jobId], 'posts', { timeoutMs: 120_000 });
        const post = await stack.database.db
          .selectFrom('posts')
          .select('id')
          .where('jobId', '=', jobId)
          .executeTakeFirstOrThrow();
        const media = await stack.database.db.selectFrom('media').select('id').where('postId', '=', post.id).execute();
        expect(media).toHaveLength(3);
        // Not grown with the outage: a step cut off mid-run runs once more, nothing else does.
        const steps = job?.steps ?? [];
        expect(steps).toHaveLength(4);
        expect(
          steps.map(({ label, attempts }) => ({ label, attempts })).filter(({ attempts }) => attempts > 2),
          `statuses seen during the outage: ${[...seen].join(', ')}; ${JSON.stringify(job)}`,
        ).toEqual([]);
        expect(job?.attempts).toBeLessThanOrEqual(steps.length + 2);
        await until(
          () => Object.values(workers).some((worker) => worker.output().includes('database reachable again after')),
          'a worker logged the end of the database outage',
          15_000,
        );
      });
    } finally {
      proxy.restore();
      await stopProcesses(Object.values(workers));
      await stack.stop();
      await proxy.close();
      await Promise.all([gemini.close(), cloudinary.close()]);
    }
  });

  it('Redis unreachable for 60 s for the gateway and every worker, work queued and running: every job completes once', {
    timeout: 300_000,
  }, async (test) => {
    const outcome = injectFault(test, 'redis unreachable 60 s');
    const redis = await startPrivateRedis();
    const proxy = await startProxy(Number(new URL(redis.url).port));
    const gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    const stack = await startStack({
      gemini,
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      inProcessWorkers: false,
      env: PROJECT_DEFAULTS,
    });
    const env = { ...stack.env, LOG_LEVEL: 'warn' };
    const workers = {
      generator: spawnService('generator', env),
      storage: spawnService('storage', env),
      persistence: spawnService('persistence', env),
    };
    reapProcesses(test, Object.values(workers));
    try {
      await explained(workers, async () => {
        const brandId = await createBrand(stack);
        await workersReady(stack, { generation: 1, storage: 1, persistence: 1 });
        // Each generation takes 3 s at Gemini: when Redis goes, some are done, some running, some waiting.
        gemini.script(...Array.from({ length: 6 }, () => ({ kind: 'slow' as const, ms: 3_000 })));
        const generations: string[] = [];
        for (let i = 0; i < 6; i++) generations.push(await generate(stack, `through a redis outage ${i}`));
        await until(() => gemini.requests.length >= 3, 'the generator had called Gemini three times');
        const posts = [await post(stack, brandId), await post(stack, brandId)];

        proxy.cut();
        const outageEnds = Date.now() + 60_000;
        while (Date.now() < outageEnds) {
          const failed = await stack.database.db
            .selectFrom('jobs')
            .select(['id', 'error'])
            .where('status', '=', 'failed')
            .execute();
          expect(failed).toEqual([]);
          await sleep(2_000, undefined, { signal: test.signal });
        }
        proxy.restore();

        await judgeAll(outcome, stack, generations, 'generated_assets', { timeoutMs: 180_000 });
        await judgeAll(outcome, stack, posts, 'posts', { timeoutMs: 60_000 });
        // The test's own queue connection (no offline queue, as the gateway's) may still be reconnecting:
        // the workers, back within a second, can finish every job before it has.
        await until(() => stack.redis.producer.status === 'ready', "the test's Redis connection is back", 15_000);
        for (const queue of ['generation', 'storage', 'persistence'] as const) {
          expect((await stack.queues.counts(queue)).failed, `failed jobs in ${queue}`).toBe(0);
        }
        for (const [name, worker] of Object.entries(workers)) {
          await until(
            () => worker.output().includes('redis reachable again after'),
            `the ${name} worker logged the end of the Redis outage`,
            15_000,
          );
        }
      });
    } finally {
      proxy.restore();
      await stopProcesses(Object.values(workers));
      await stack.stop();
      await proxy.close();
      await redis.kill();
      await gemini.close();
    }
  });
});
