import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

// bigint columns (media.bytes) hold file sizes, far below 2^53: read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Db = Kysely<Database>;

export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // Every call to PostgreSQL is bounded: a server that has gone away fails the call (and the job
    // attempt retries it) instead of holding it forever.
    connectionTimeoutMillis: 10_000,
    query_timeout: 60_000,
  });
  // An idle connection whose server went away (a restart, a failover) is dropped by the pool and the
  // next query opens a new one; without a listener its error would crash the process.
  pool.on('error', () => {});
  // The same for a connection that dies while checked out (mid-transaction, say): the pool's listener is
  // off it then, and pg would crash the process with the error. The query using it fails with the error
  // anyway, and the pool discards a connection that can no longer be queried when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Throws when the database cannot answer a trivial query. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/**
 * Runs `task` only if no other process is running the task of this name (a PostgreSQL advisory lock
 * held on one connection for the task's length); answers whether it ran.
 */
export async function runExclusive(db: Db, name: string, task: () => Promise<void>): Promise<boolean> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtext(${name})) as locked`.execute(
      connection,
    );
    if (!rows[0]?.locked) return false;
    try {
      await task();
      return true;
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(connection);
    }
  });
}
