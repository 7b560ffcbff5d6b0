import {
  type Compilable,
  CompiledQuery,
  Kysely,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  sql,
} from 'kysely';
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
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new NamingPool(pool) }) });
}

/** SQL text → its statement name, for the queries `prepared` made: they run as named statements. */
const STATEMENT_NAMES = new Map<string, string>();

/**
 * The pool as Kysely sees it, handing it clients that run a `prepared` query's SQL as a named statement
 * (pg then parses it once per connection and PostgreSQL may keep its plan) and any other SQL as sent.
 * Kysely passes SQL text only, so this is where a name can be added.
 */
class NamingPool implements PostgresPool {
  private readonly pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.pool = pool;
  }
  get options() {
    return this.pool.options;
  }
  get Client() {
    return pg.Client;
  }
  async connect(): Promise<PostgresPoolClient> {
    const client = await this.pool.connect();
    return {
      processID: (client as { processID?: number }).processID,
      release: (destroy?: boolean) => client.release(destroy),
      // Kysely's two calls, SQL with its parameters or a cursor, are pg's own.
      query: ((text: string | pg.Submittable, values?: unknown[]) => {
        if (typeof text !== 'string') return client.query(text);
        const name = STATEMENT_NAMES.get(text);
        return name ? client.query({ name, text, values }) : client.query(text, values);
      }) as unknown as PostgresPoolClient['query'],
    };
  }
  end(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * A query made once and run as a named prepared statement, for the hottest calls (a job's poll): PostgreSQL
 * parses and plans it once per connection instead of on every call, which measured three times cheaper
 * for the poll's query (pgbench). `build` gets a stand-in for each named parameter; the query it makes
 * must take no other values, and must name its columns (a `select *` would fail on connections that
 * prepared it before a migration added a column).
 */
export function prepared<Row, Param extends string>(
  db: Db,
  name: string,
  params: readonly Param[],
  build: (db: Db, param: Record<Param, string>) => Compilable<Row>,
): (values: Record<Param, unknown>) => Promise<Row[]> {
  const stands = new Map(params.map((param) => [param, { param }]));
  const compiled = build(db, Object.fromEntries(stands) as unknown as Record<Param, string>).compile();
  const order = compiled.parameters.map((value) => {
    const param = (value as { param?: Param } | null)?.param;
    if (param === undefined || stands.get(param) !== value) {
      throw new Error(`prepared query ${name}: a value that is not one of its parameters (${String(value)})`);
    }
    return param;
  });
  const known = STATEMENT_NAMES.get(compiled.sql);
  if (known !== undefined && known !== name) throw new Error(`prepared query ${name}: the same SQL as ${known}`);
  STATEMENT_NAMES.set(compiled.sql, name);
  return async (values) =>
    (
      await db.executeQuery<Row>(
        CompiledQuery.raw(
          compiled.sql,
          order.map((param) => values[param]),
        ),
      )
    ).rows;
}

/**
 * Runs `work` in a transaction: the caller's, when `db` is one already (a repository bound to an outer
 * transaction, `JobsRepository.completeInCommit`), so that its writes commit with the caller's.
 */
export function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
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
