import { type Migration, Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Db } from './client.ts';
import * as initial from './migrations/0001-initial.ts';
import * as jobSteps from './migrations/0002-job-steps.ts';
import * as idempotencyKeys from './migrations/0003-idempotency-keys.ts';
import * as unfinishedByOwner from './migrations/0004-unfinished-by-owner.ts';
import * as millisecondTimestamps from './migrations/0005-millisecond-timestamps.ts';
import * as inFlightSlots from './migrations/0006-in-flight-slots.ts';
import * as webhooks from './migrations/0007-webhooks.ts';
import * as uploads from './migrations/0008-uploads.ts';
import * as stagedUploadsCleaned from './migrations/0009-staged-uploads-cleaned.ts';

/** Every migration, in order. A new one is a new file in ./migrations and a line here. */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-job-steps': jobSteps,
  '0003-idempotency-keys': idempotencyKeys,
  '0004-unfinished-by-owner': unfinishedByOwner,
  '0005-millisecond-timestamps': millisecondTimestamps,
  '0006-in-flight-slots': inFlightSlots,
  '0007-webhooks': webhooks,
  '0008-uploads': uploads,
  '0009-staged-uploads-cleaned': stagedUploadsCleaned,
};

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Creates the database named in the URL when the server has no such database yet, so that a fresh
 * machine needs no manual `createdb`. Connects to the server's `postgres` database to do it.
 */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`create database "${name.replaceAll('"', '""')}"`);
    return true;
  } finally {
    await client.end();
  }
}
