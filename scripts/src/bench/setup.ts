import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '@mediaflow/config';
import { createDb, type Db, ensureDatabase, migrateToLatest, UsersRepository } from '@mediaflow/db';
import { TEST_JWT_SECRET } from '@mediaflow/testing';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import pg from 'pg';

/** The benchmark runs as production does, so its tokens carry the issuer and audience production requires. */
export const BENCH_TOKEN_CLAIMS = { iss: 'https://bench.mediaflow.test/', aud: 'mediaflow-bench' };

const SERVER_URL = 'postgres://postgres@127.0.0.1:5432';
const DATABASE = 'mediaflow_bench';
/** Every Redis key of the benchmark starts with this, whichever of the prefixes below it belongs to. */
const KEY_PATTERN = '{bench}*';
/** The product's queues (gateway and workers). */
export const PREFIX = '{bench}';
/** The bare BullMQ and bare Fastify baselines' queues, apart from the product's. */
export const BARE_PREFIX = '{bench}-bare';
/** Queues no worker consumes: enqueue latency with a backlog. */
export const IDLE_PREFIX = '{bench}-idle';
/** Owner of the bare accept route's job rows (jobs.ownerId needs a user). */
export const BARE_USER = 'bench-bare';

export interface Bench {
  /** The environment every child process gets, and that `config` was loaded from. */
  env: Record<string, string>;
  config: Config;
  db: Db;
  redis: Redis;
  versions: { postgres: string; redis: string };
  /** Empties the jobs, idempotency keys and every table whose rows belong to a job, keeping users and brands. */
  clearJobs(): Promise<void>;
  /** Deletes the stored media (the local store's files): see `clearMedia`. */
  clearMedia(): Promise<void>;
  /** clearJobs, and empties the benchmark's queues: each phase starts clean. */
  reset(): Promise<void>;
  /** Drops the database, deletes the Redis keys and the temporary directory. */
  tearDown(): Promise<void>;
}

/**
 * A database, queue prefix, media directory and spool directory of the benchmark's own, so that it never
 * touches the development database or a test run. The database is made fresh each run.
 */
export async function setUp(): Promise<Bench> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mediaflow-bench-'));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    // Warnings and errors only: request logging is not what is measured, and the bare baselines log nothing.
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    DATABASE_URL: `${SERVER_URL}/${DATABASE}`,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: PREFIX,
    JWT_SECRET: TEST_JWT_SECRET,
    JWT_ISSUER: BENCH_TOKEN_CLAIMS.iss,
    JWT_AUDIENCE: BENCH_TOKEN_CLAIMS.aud,
    MEDIA_DIR: path.join(dir, 'media'),
    // The load is one client: per-user limits would measure the limiter's 429s, not the service.
    RATE_LIMIT_GENERATE: '1000000',
    RATE_LIMIT_WRITE: '1000000',
    RATE_LIMIT_READ: '1000000',
    MAX_GENERATIONS_IN_FLIGHT: '10000',
    MAX_UPLOADS_IN_FLIGHT: '1000',
    MAX_VIDEO_BYTES: String(1024 * 1024 * 1024),
    // Request files and resumable uploads: in this run's directory, with room for the videos.
    SPOOL_DIR: path.join(dir, 'spool'),
    SPOOL_MAX_BYTES: String(4 * 1024 * 1024 * 1024),
    TMPDIR: dir,
    // As the Dockerfile runs every service.
    MALLOC_ARENA_MAX: '2',
  };
  const config = loadConfig(env);
  await admin(`drop database if exists "${DATABASE}" with (force)`);
  await ensureDatabase(config.databaseUrl);
  const db = createDb(config.databaseUrl, { maxConnections: 5 });
  await migrateToLatest(db);
  await new UsersRepository(db).ensure(BARE_USER);
  // One server (the keys are found with SCAN), waiting through hiccups as a worker's connection does.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  // Keys an interrupted run left behind.
  await deleteKeys(redis);
  const [{ server_version: postgres }] = (await admin('show server_version')) as [{ server_version: string }];
  const versions = { postgres, redis: /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown' };

  return {
    env,
    config,
    db,
    redis,
    versions,
    clearJobs: () => clearJobs(db),
    clearMedia: () => clearMedia(env.MEDIA_DIR as string),
    reset: async () => {
      await clearJobs(db);
      await deleteKeys(redis);
    },
    tearDown: async () => {
      await deleteKeys(redis);
      redis.disconnect();
      await db.destroy();
      await admin(`drop database if exists "${DATABASE}" with (force)`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * TRUNCATE, not DELETE: a server may run without autovacuum (this machine's does), and the rows deleted
 * round after round stayed behind as dead tuples (150,000 in jobs by the third HTTP round), so each
 * round read and wrote a larger table than the one before. CASCADE takes every table that refers to a job.
 */
async function clearJobs(db: Db): Promise<void> {
  await sql`truncate jobs, idempotency_keys cascade`.execute(db);
}

/**
 * The stored files go before each video upload, so that each writes to a machine in the same state: kept,
 * the 500 MB videos stayed in the page cache, and writing the next upload's spool file took twice the
 * kernel time from the fourth one on (the same pages written), its rate falling from 220 to 140 MB/s.
 * Not between the other phases: in the one run that deleted them there too, the posts' rows read 20–25%
 * lower, likely as the deletions' discards (the disk is mounted with discard) slowed the commits they wait on.
 */
async function clearMedia(dir: string): Promise<void> {
  // Its contents only: the gateway serves the directory itself.
  const entries = await readdir(dir).catch(() => []);
  await Promise.all(entries.map((entry) => rm(path.join(dir, entry), { recursive: true, force: true })));
}

async function deleteKeys(redis: Redis): Promise<void> {
  for await (const keys of redis.scanStream({ match: KEY_PATTERN, count: 1_000 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) await redis.unlink(...keys);
  }
}

async function admin(statement: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}
