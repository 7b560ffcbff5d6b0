import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDb, type Db } from './client.ts';

// What tests need to get a database of their own. It lives here, not in @mediaflow/testing, so that
// libs/db's own tests can use it: @mediaflow/testing depends on @mediaflow/db, not the other way round.

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose server lets tests create databases. */
    postgresUrl: string;
    redisUrl: string;
    /** A migrated database that each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string;
    /** Names of databases and queue prefixes made by this run start with it, so teardown finds them. */
    runId: string;
  }
}

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A database of this test file's own, cloned from the migrated template: files run in parallel. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = inject('postgresUrl');
  const name = `${inject('runId')}_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database "${name}" template "${inject('templateDatabase')}"`);
  const url = withDatabase(server, name);
  const db = createDb(url, { maxConnections: 5 });
  return {
    url,
    db,
    drop: async () => {
      await db.destroy();
      await admin(server, `drop database if exists "${name}" with (force)`);
    },
  };
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs one statement (CREATE/DROP DATABASE) on its own connection to `url`. */
export async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
