import { randomBytes } from 'node:crypto';
import { createDb, type Db } from '@mediaflow/db';
import { inject } from 'vitest';
import { admin, withDatabase } from './global-setup.ts';

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
