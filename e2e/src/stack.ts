import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '@mediaflow/config';
import type { QueueName } from '@mediaflow/domain';
import { buildServer } from '@mediaflow/gateway';
import { generatorService } from '@mediaflow/generator';
import { createLogger } from '@mediaflow/logger';
import { notifierService } from '@mediaflow/notifier';
import { persistenceService } from '@mediaflow/persistence';
import { buildMediaStore, usesLocalStore } from '@mediaflow/providers';
import { QueueRepository } from '@mediaflow/queue';
import { type RunningWorkerService, startWorkerService } from '@mediaflow/runtime';
import { storageService } from '@mediaflow/storage';
import {
  createTestDatabase,
  createTestRedis,
  type FakeCloudinary,
  type FakeGemini,
  type FakeImageKit,
  signToken,
  sparePort,
  TEST_JWT_SECRET,
  type TestDatabase,
  type TestRedis,
} from '@mediaflow/testing';

export interface StackOptions {
  /** Fakes to point the real SDKs at; whatever is left out runs on the local stand-ins. */
  gemini?: FakeGemini;
  cloudinary?: FakeCloudinary;
  imagekit?: FakeImageKit;
  /** More environment variables, as a deployment would set them. */
  env?: Record<string, string>;
  /** Another Redis than the suite's, e.g. one a test stops and starts. */
  redisUrl?: string;
  /** Run the workers in this process (the default); off when a test runs them as processes. */
  inProcessWorkers?: boolean;
}

export interface Stack {
  baseUrl: string;
  config: Config;
  database: TestDatabase;
  redis: TestRedis;
  mediaDir: string;
  /** SPOOL_DIR: request files under requests/, resumable uploads under uploads/. */
  spoolDir: string;
  queues: QueueRepository;
  /** Stops the workers taking new jobs (what is running finishes), and starts them again. */
  pauseWorkers(): Promise<void>;
  resumeWorkers(): void;
  /** Jobs in BullMQ for a queue, whatever their state. */
  queuedJobs(queue: QueueName): Promise<number>;
  /** A bearer token for `user`, as `request` sends it, for clients the test drives itself. */
  token(user: string): Promise<string>;
  /** fetch() against the gateway, with a bearer token for `user` unless `token` says otherwise. */
  request(method: string, route: string, options?: RequestOptions): Promise<Response>;
  /** Polls GET /api/jobs/:id until the job completes or fails. */
  waitForJob(jobId: string, user: string, timeoutMs?: number): Promise<JobStatus>;
  /** The environment the stack was configured with, for worker processes a test starts itself. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface RequestOptions {
  user?: string;
  /** An explicit Authorization token; `null` sends none. */
  token?: string | null;
  json?: unknown;
  form?: FormData;
  /** A raw body, e.g. a tus PATCH's bytes. */
  body?: Buffer;
  headers?: Record<string, string>;
}

export interface JobStatus {
  jobId: string;
  kind: string;
  status: 'queued' | 'active' | 'completed' | 'failed';
  attempts: number;
  result?: Record<string, unknown>;
  error?: { code: string; message: string; retryable: boolean };
  steps?: Array<{
    step: number;
    kind: string;
    label: string;
    state: string;
    attempts: number;
    error?: { code: string; message: string };
  }>;
}

/**
 * The gateway (listening on a loopback port) and every worker, as their main.ts files wire them,
 * on this test file's own database and queue prefix, configured through environment variables.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = await createTestDatabase();
  const redis = createTestRedis(options.redisUrl, options.env?.REDIS_CLUSTER === 'true');
  const mediaDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-media-'));
  const spoolDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-spool-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    MEDIA_DIR: mediaDir,
    SPOOL_DIR: spoolDir,
    // Worker processes of one test file run side by side: each takes a free port for /metrics.
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    JOB_BACKOFF_MS: '20',
    // Tests make many requests as one user; the limits' own tests set them low.
    RATE_LIMIT_GENERATE: '100000',
    RATE_LIMIT_WRITE: '100000',
    RATE_LIMIT_READ: '100000',
    MAX_GENERATIONS_IN_FLIGHT: '1000',
    MAX_UPLOADS_IN_FLIGHT: '1000',
    ...(options.gemini
      ? { GEMINI_API_KEY: 'test-gemini-key', GEMINI_BASE_URL: options.gemini.baseUrl, GEMINI_TIMEOUT_MS: '5000' }
      : {}),
    ...(options.cloudinary ? { CLOUDINARY_URL: options.cloudinary.cloudinaryUrl } : {}),
    ...(options.imagekit
      ? {
          IMAGEKIT_PRIVATE_KEY: 'private_test_key',
          IMAGEKIT_URL_ENDPOINT: options.imagekit.urlEndpoint,
          IMAGEKIT_BASE_URL: options.imagekit.baseUrl,
        }
      : {}),
    ...options.env,
  };
  const port = await sparePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig({ ...env, PORT: String(port), PUBLIC_URL: baseUrl });
  const logger = createLogger({ service: 'test', level: config.logLevel });
  const queues = new QueueRepository({ connection: redis.producer, prefix: redis.prefix, retry: config.jobs });
  const server = buildServer(
    {
      config,
      db: database.db,
      redis: redis.producer,
      queues,
      store: buildMediaStore(config, logger),
      serveLocalMedia: usesLocalStore(config),
    },
    logger,
  );
  await server.listen({ port, host: '127.0.0.1' });

  // The worker services as their main.ts files run them, on this stack's clients; the maintenance duties
  // are left to the tests, which run a round when they need one.
  const clients = { config, db: database.db, logger, queues, connection: redis.worker };
  const workers: RunningWorkerService[] =
    options.inProcessWorkers === false
      ? []
      : [
          startWorkerService(generatorService, clients, { background: false }),
          startWorkerService(storageService, clients, { background: false }),
          startWorkerService(persistenceService, clients, { background: false }),
          startWorkerService(notifierService, clients, { background: false }),
        ];

  const request = async (method: string, route: string, opts: RequestOptions = {}): Promise<Response> => {
    const token = opts.token === undefined ? await signToken(opts.user ?? 'user-1') : opts.token;
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers };
    let body: RequestInit['body'];
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.form) {
      body = opts.form;
    } else if (opts.body) {
      body = new Uint8Array(opts.body);
    }
    return fetch(`${baseUrl}${route}`, { method, headers, body });
  };

  return {
    baseUrl,
    config,
    env: { ...env, PORT: String(port), PUBLIC_URL: baseUrl },
    database,
    redis,
    mediaDir,
    spoolDir,
    queues,
    pauseWorkers: async () => {
      await Promise.all(workers.map(({ worker }) => worker.pause()));
    },
    resumeWorkers: () => {
      for (const { worker } of workers) worker.resume();
    },
    queuedJobs: async (queue) => {
      const counts = await queues.counts(queue);
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    request,
    token: (user) => signToken(user),
    waitForJob: async (jobId, user, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const response = await request('GET', `/api/jobs/${jobId}`, { user });
        if (response.status !== 200)
          throw new Error(`polling job ${jobId} answered ${response.status}: ${await response.text()}`);
        const job = (await response.json()) as JobStatus;
        if (job.status === 'completed' || job.status === 'failed') return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: async () => {
      // Teardown: running jobs get a few seconds to finish (so nothing touches the database after it is
      // dropped), then the workers are closed regardless (a worker whose Redis went away can wait forever).
      const closed = Promise.all(workers.map((worker) => worker.close()));
      const timedOut = await Promise.race([closed.then(() => false), sleep(5_000).then(() => true)]);
      if (timedOut) await Promise.all(workers.map((worker) => worker.close(true)));
      await server.close();
      await queues.close();
      await redis.cleanup();
      await database.drop();
      await rm(mediaDir, { recursive: true, force: true });
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}
