import { loadConfigOrExit } from '@mediaflow/config';
import { createDb, pingDatabase } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { buildImageGenerator, buildMediaStore } from '@mediaflow/providers';
import { closeOnSignal, createRedis, startWorkerOps } from '@mediaflow/queue';
import { startTracing } from '@mediaflow/telemetry';
import { startGeneratorWorker } from './worker.ts';

/** In-flight generations get this long to finish after SIGTERM (an image can take a minute). */
const SHUTDOWN_DEADLINE_MS = 90_000;

// Composition root: config, clients and the worker, built and wired here and nowhere else.
const config = loadConfigOrExit();
const logger = createLogger({ service: 'generator', level: config.logLevel });
const stopTracing = startTracing('generator', config);
const db = createDb(config.databaseUrl);
const connection = createRedis(config.redisUrl, 'worker', config.redisCluster);
const generator = buildImageGenerator(config);
const store = buildMediaStore(config, logger);
logger.info(
  { generator: generator.model, store: store.name, concurrency: config.generatorConcurrency },
  `generator worker starting: ${config.gemini ? 'Gemini' : 'LOCAL generator (no GEMINI_API_KEY)'}, store ${store.name}`,
);
const worker = startGeneratorWorker({ config, db, connection, generator, store, logger });
const stopOps = await startWorkerOps({ queue: 'generation', config, connection, pingDatabase: () => pingDatabase(db) });

closeOnSignal({
  logger,
  what: 'generator',
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  close: async () => {
    await worker.close();
    await stopOps();
    await stopTracing();
    connection.disconnect();
    await db.destroy();
  },
});
