import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, pingDatabase, prepared } from './client.ts';
import { UsersRepository } from './repositories/users.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/** A TCP proxy in front of PostgreSQL whose connections the test can cut, as an outage would. */
async function cuttableProxy(target: URL) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: Object.assign(new URL(target), { host: `127.0.0.1:${port}` }).toString(),
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('createDb', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('survives a connection dying mid-transaction: the transaction fails, the process does not, and the next query works', async () => {
    const proxy = await cuttableProxy(new URL(database.url));
    const db = createDb(proxy.url, { maxConnections: 1 });
    try {
      const transaction = db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        // The connection is checked out, idle between statements, when it dies.
        await sleep(300);
        await sql`select 2`.execute(trx);
      });
      await sleep(100);
      proxy.cut();
      await expect(transaction).rejects.toThrow();
      // An uncaught 'error' would have failed this run; the pool has let the dead connection go.
      await expect(pingDatabase(db)).resolves.toBeUndefined();
    } finally {
      await db.destroy();
      await proxy.close();
    }
  });
});

describe('prepared', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('runs as a named statement of each connection, with its values in the order its SQL takes them', async () => {
    // One connection, so that the statement it prepared is the one listed.
    const db = createDb(database.url, { maxConnections: 1 });
    try {
      await new UsersRepository(db).ensure('ana');
      await new UsersRepository(db).ensure('bo');
      const users = prepared(db, 'test_users_named', ['first', 'second'], (db, param) =>
        db
          .selectFrom('users')
          .select('id')
          .where((eb) => eb.or([eb('id', '=', param.second), eb('id', '=', param.first)]))
          .where('id', '!=', param.second)
          .orderBy('id'),
      );
      expect(await users({ first: 'ana', second: 'bo' })).toEqual([{ id: 'ana' }]);
      expect(await users({ first: 'bo', second: 'ana' })).toEqual([{ id: 'bo' }]);
      const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(db);
      expect(rows.map((row) => row.name)).toEqual(['test_users_named']);
      // Any other query stays unnamed.
      await sql`select 1`.execute(db);
      const after = await sql<{ count: string }>`select count(*) from pg_prepared_statements`.execute(db);
      expect(Number(after.rows[0]?.count)).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a query that takes a value other than its parameters, or the SQL of another name', async () => {
    const db = createDb(database.url, { maxConnections: 1 });
    try {
      expect(() =>
        prepared(db, 'test_fixed_value', ['id'], (db, param) =>
          db.selectFrom('users').select('id').where('id', '=', param.id).where('id', '!=', 'x'),
        ),
      ).toThrow(/test_fixed_value: a value that is not one of its parameters/);
      const build = (db: Db, param: Record<'id', string>) =>
        db.selectFrom('users').select('id').where('id', '=', param.id);
      prepared(db, 'test_first_name', ['id'], build);
      expect(() => prepared(db, 'test_second_name', ['id'], build)).toThrow(/the same SQL as test_first_name/);
    } finally {
      await db.destroy();
    }
  });
});
