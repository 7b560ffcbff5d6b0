import { loadConfigOrExit } from '@mediaflow/config';
import { createDb, pingDatabase } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore } from '@mediaflow/providers';
import { closeOnSignal, createRedis, JobProducer, startWorkerOps } from '@mediaflow/queue';
import { startTracing } from '@mediaflow/telemetry';
import { startMaintenance, startStorageWorker } from './worker.ts';

/** In-flight promotions get this long to finish after SIGTERM (a large video can take a while). */
const SHUTDOWN_DEADLINE_MS = 120_000;

// Composition root: config, clients and the worker, built and wired here and nowhere else.
const config = loadConfigOrExit();
const logger = createLogger({ service: 'storage', level: config.logLevel });
const stopTracing = startTracing('storage', config);
const db = createDb(config.databaseUrl);
const connection = createRedis(config.redisUrl, 'worker', config.redisCluster);
const store = buildMediaStore(config, logger);
logger.info(
  { store: store.name, concurrency: config.storageConcurrency },
  `storage worker starting: store ${store.name}`,
);
const worker = startStorageWorker({ config, db, connection, store, logger });
const producerConnection = createRedis(config.redisUrl, 'producer', config.redisCluster);
const producer = new JobProducer({ connection: producerConnection, prefix: config.queuePrefix, retry: config.jobs });
const stopTasks = startMaintenance({ config, db, store, producer, logger });
const stopOps = await startWorkerOps({ queue: 'storage', config, connection, pingDatabase: () => pingDatabase(db) });

closeOnSignal({
  logger,
  what: 'storage worker',
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  close: async () => {
    await stopTasks();
    await worker.close();
    await stopOps();
    await stopTracing();
    await producer.close();
    producerConnection.disconnect();
    connection.disconnect();
    await db.destroy();
  },
});
