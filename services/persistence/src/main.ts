import { loadConfigOrExit } from '@mediaflow/config';
import { createDb, pingDatabase } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { closeOnSignal, createRedis, startWorkerOps } from '@mediaflow/queue';
import { startTracing } from '@mediaflow/telemetry';
import { startPersistenceWorker } from './worker.ts';

/** In-flight writes get this long to finish after SIGTERM. */
const SHUTDOWN_DEADLINE_MS = 30_000;

// Composition root: config, clients and the worker, built and wired here and nowhere else.
const config = loadConfigOrExit();
const logger = createLogger({ service: 'persistence', level: config.logLevel });
const stopTracing = startTracing('persistence', config);
const db = createDb(config.databaseUrl);
const connection = createRedis(config.redisUrl, 'worker', config.redisCluster);
logger.info({ concurrency: config.persistenceConcurrency }, 'persistence worker starting');
const worker = startPersistenceWorker({ config, db, connection, logger });
const stopOps = await startWorkerOps({
  queue: 'persistence',
  config,
  connection,
  pingDatabase: () => pingDatabase(db),
});

closeOnSignal({
  logger,
  what: 'persistence worker',
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  close: async () => {
    await worker.close();
    await stopOps();
    await stopTracing();
    connection.disconnect();
    await db.destroy();
  },
});
