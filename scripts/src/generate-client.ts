import { writeFile } from 'node:fs/promises';
import { SCHEMA_PATH, SNAPSHOT_PATH, schemaSource, snapshotSource } from '@mediaflow/client/codegen';
import { loadConfig } from '@mediaflow/config';
import { createDb } from '@mediaflow/db';
import { buildServer } from '@mediaflow/gateway';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore } from '@mediaflow/providers';
import { QueueRepository } from '@mediaflow/queue';
import { Redis } from 'ioredis';

// npm run generate:client: the gateway's /openapi.json, from a server that is built but never listens
// nor connects to anything, becomes libs/client/openapi.json and, through openapi-typescript,
// libs/client/src/schema.ts. Run it after changing a route's schema; e2e/src/client.test.ts fails until then.
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
const logger = createLogger({ service: 'generate-client', level: 'silent' });
const db = createDb(config.databaseUrl);
const redis = new Redis(config.redisUrl, { lazyConnect: true });
const queues = new QueueRepository({ connection: redis, prefix: config.queuePrefix, retry: config.jobs });
const server = buildServer(
  { config, db, redis, queues, store: buildMediaStore(config, logger), serveLocalMedia: false },
  logger,
);
try {
  const response = await server.inject({ method: 'GET', url: '/openapi.json' });
  if (response.statusCode !== 200) throw new Error(`/openapi.json answered ${response.statusCode}`);
  const document = response.json();
  await writeFile(SNAPSHOT_PATH, snapshotSource(document));
  await writeFile(SCHEMA_PATH, await schemaSource(document));
  console.log(`wrote ${SNAPSHOT_PATH} and ${SCHEMA_PATH}`);
} finally {
  await server.close();
  await queues.close();
  redis.disconnect();
  await db.destroy();
}
