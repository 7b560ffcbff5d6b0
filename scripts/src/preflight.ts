import type { Config } from '@mediaflow/config';
import { createDb, ensureDatabase, migrateToLatest } from '@mediaflow/db';
import { Redis } from 'ioredis';

/** Says which server is missing and how to start it, rather than a stack trace. */
export class PreflightError extends Error {}

/** Creates the database when missing and applies every migration. */
export async function prepareDatabase(config: Pick<Config, 'databaseUrl'>): Promise<string[]> {
  try {
    await ensureDatabase(config.databaseUrl);
  } catch (error) {
    throw new PreflightError(
      `PostgreSQL is not reachable at ${safeUrl(config.databaseUrl)} (${reason(error)}).\n` +
        '  Start it — on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start;\n' +
        '  with Docker: docker compose up -d postgres — or point DATABASE_URL at a running server.',
    );
  }
  const db = createDb(config.databaseUrl, { maxConnections: 1 });
  try {
    return await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

export async function checkRedis(config: Pick<Config, 'redisUrl'>): Promise<void> {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new PreflightError(
      `Redis is not reachable at ${safeUrl(config.redisUrl)} (${reason(error)}).\n` +
        '  Start it — on Debian: redis-server --daemonize yes --bind 127.0.0.1 --port 6379;\n' +
        '  with Docker: docker compose up -d redis — or point REDIS_URL at a running server.',
    );
  } finally {
    redis.disconnect();
  }
}

function reason(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(reason).join(', ');
  return error instanceof Error ? error.message || error.name : String(error);
}

function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
