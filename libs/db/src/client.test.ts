import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, pingDatabase } from './client.ts';
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
