import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@mediaflow/config';
import type { Db } from '@mediaflow/db';
import { SERVICE_QUEUES } from '@mediaflow/domain';
import type { Redis } from '@mediaflow/queue';
import { type FakeCloudinary, type FakeGemini, startFakeCloudinary, startFakeGemini } from '@mediaflow/testing';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { type Poster, submitGeneration, submitPost, type User } from './pipeline.ts';
import { median } from './report.ts';
import { PREFIX } from './setup.ts';

/** The providers' latencies the rows are measured at: a fast Gemini image, typical Cloudinary calls. */
export const LATENCY = { geminiMs: 2_000, uploadMs: 300, renameMs: 150 };
const POLL_MS = 100;
const TIMEOUT_MS = 300_000;

export interface SlowProviders {
  gemini: FakeGemini;
  cloudinary: FakeCloudinary;
  /** What a deployment sets to use them: keys and base URLs only, every other setting at its default. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** The local fakes of Gemini and Cloudinary, each taking its real counterpart's time (LATENCY). */
export async function startSlowProviders(): Promise<SlowProviders> {
  const apiKey = 'bench-gemini-key';
  const gemini = await startFakeGemini({ apiKey, latencyMs: LATENCY.geminiMs, photoLike: true });
  const cloudinary = await startFakeCloudinary({
    cloudName: 'bench',
    apiKey: '123456789',
    apiSecret: 'bench-secret',
    latencyMs: { upload: LATENCY.uploadMs, rename: LATENCY.renameMs, destroy: LATENCY.renameMs },
  });
  return {
    gemini,
    cloudinary,
    env: { GEMINI_API_KEY: apiKey, GEMINI_BASE_URL: gemini.baseUrl, CLOUDINARY_URL: cloudinary.cloudinaryUrl },
    close: async () => {
      await gemini.close();
      await cloudinary.close();
    },
  };
}

/** The project's defaults for a deployment with these providers: what the rows run with. */
export function defaultsWith(env: Record<string, string>) {
  const config = loadConfig(env);
  return { generator: config.generatorConcurrency, storage: config.storageConcurrency };
}

export interface SteadyRate {
  /** Jobs a second between the 10th and the 90th percentile of their ends: the pipe full, no ramp. */
  perSecond: number;
  errors: number;
}

export type SlowPosts = SteadyRate & { commitsPerPost: number };

/** Rounds' rates as one: the median rate, every round's errors. */
export function medianRate(rounds: SteadyRate[]): SteadyRate & { rounds: number[] } {
  const rates = rounds.map((round) => round.perSecond);
  return { perSecond: median(rates), errors: rounds.reduce((sum, round) => sum + round.errors, 0), rounds: rates };
}

/**
 * `count` generations, all submitted at once (they wait in the queue, as a burst would), and the rate at
 * which they end while the generator's slots are all busy.
 */
export async function slowGenerations(gatewayUrl: string, db: Db, users: User[], count: number): Promise<SteadyRate> {
  return steadyRate(db, count, 64, (i) => submitGeneration(gatewayUrl, users, i));
}

/**
 * `count` posts of two images, each image one upload (by the gateway) and one rename (by the storage
 * worker). The storage queue is paused while they are accepted and then resumed, as after a burst: the
 * rate is then the storage and persistence workers' with their queue full, which is what the row's
 * ceiling is about. Accepted while the workers ran, the posts' uploads (0.3 s each, and the gateway's
 * CPU) shared the two cores with the renames, and the rate moved with however the two overlapped:
 * 0.60× and 0.83× of the ceiling in two runs of the same code.
 */
export async function slowPosts(
  gatewayUrl: string,
  db: Db,
  redis: Redis,
  posters: Poster[],
  images: [Buffer, Buffer],
  count: number,
): Promise<SlowPosts> {
  const storage = new Queue(SERVICE_QUEUES.storage, { connection: redis, prefix: PREFIX });
  await storage.pause();
  const commitsBefore = await commits(db);
  const rate = await steadyRate(
    db,
    count,
    64,
    (i) => submitPost(gatewayUrl, posters, images, i),
    () => storage.resume(),
  );
  await storage.close();
  // Backends report their counts to pg_stat_database within PGSTAT_IDLE_INTERVAL (10 s) of going idle.
  await sleep(11_000);
  const committed = (await commits(db)) - commitsBefore - rate.ownQueries;
  return { perSecond: rate.perSecond, errors: rate.errors, commitsPerPost: committed / count };
}

/** Transactions committed in this database so far (every statement outside a transaction is one). */
async function commits(db: Db): Promise<number> {
  const { rows } = await sql<{ commits: string }>`
    select xact_commit as commits from pg_stat_database where datname = current_database()`.execute(db);
  return Number(rows[0]?.commits ?? 0);
}

/** Submits `count` jobs, `submitters` at a time, calls `allAccepted` (if given) once all are in, and waits for their ends. */
async function steadyRate(
  db: Db,
  count: number,
  submitters: number,
  submit: (i: number) => Promise<Response>,
  allAccepted?: () => Promise<void>,
): Promise<SteadyRate & { ownQueries: number }> {
  const accepted: string[] = [];
  let rejected = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: submitters }, async () => {
      while (next < count) {
        const response = await submit(next++);
        if (response.status === 202) accepted.push(((await response.json()) as { jobId: string }).jobId);
        else {
          rejected++;
          await response.arrayBuffer();
        }
      }
    }),
  );
  await allAccepted?.();
  let ownQueries = 0;
  let ended: Array<{ status: string; finishedAt: Date | null }> = [];
  const deadline = Date.now() + TIMEOUT_MS;
  while (accepted.length > 0) {
    ownQueries++;
    ended = await db
      .selectFrom('jobs')
      .select(['status', 'finishedAt'])
      .where('id', 'in', accepted)
      .where('status', 'in', ['completed', 'failed'])
      .execute();
    if (ended.length >= accepted.length) break;
    if (Date.now() > deadline)
      throw new Error(`${accepted.length - ended.length} jobs still running after ${TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
  const ends = ended.map((job) => job.finishedAt?.getTime() ?? 0).sort((a, b) => a - b);
  const from = Math.floor(ends.length * 0.1);
  const to = Math.ceil(ends.length * 0.9) - 1;
  const seconds = ((ends[to] ?? 0) - (ends[from] ?? 0)) / 1000;
  return {
    perSecond: seconds > 0 ? (to - from) / seconds : 0,
    errors: rejected + ended.filter((job) => job.status === 'failed').length,
    ownQueries,
  };
}
