import { randomBytes } from 'node:crypto';
import { createDb, migrateToLatest } from '@mediaflow/db';
import { admin, withDatabase } from '@mediaflow/db/testing';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

// Where the test servers come from, in order: DATABASE_URL / REDIS_URL when set; testcontainers
// when a container runtime answers; else the local servers at their default addresses.
// This file and libs/config are the only readers of process.env.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<unknown>> = [];
  const postgresUrl =
    process.env.DATABASE_URL ?? (await startPostgresContainer(stops)) ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL ?? (await startRedisContainer(stops)) ?? 'redis://127.0.0.1:6379';
  const runId = `mf_${randomBytes(3).toString('hex')}`;
  const templateDatabase = `${runId}_template`;

  await admin(postgresUrl, `create database "${templateDatabase}"`);
  const db = createDb(withDatabase(postgresUrl, templateDatabase), { maxConnections: 1 });
  await migrateToLatest(db);
  await db.destroy();

  project.provide('postgresUrl', postgresUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('runId', runId);

  return async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [
      `${runId}%`,
    ]);
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
    await client.end();
    for (const stop of stops) await stop();
  };
}

async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startPostgresContainer(stops: Array<() => Promise<unknown>>): Promise<string | undefined> {
  if (!(await containerRuntimeAvailable())) return undefined;
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:17-alpine').start();
  stops.push(() => container.stop());
  return container.getConnectionUri();
}

async function startRedisContainer(stops: Array<() => Promise<unknown>>): Promise<string | undefined> {
  if (!(await containerRuntimeAvailable())) return undefined;
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7-alpine').start();
  stops.push(() => container.stop());
  return container.getConnectionUrl();
}
