import { loadConfigOrExit } from '@mediaflow/config';
import { createDb } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore, configureImageProcessing, usesLocalStore } from '@mediaflow/providers';
import { createRedis, QueueRepository } from '@mediaflow/queue';
import { startTracing } from '@mediaflow/telemetry';
import { runServer } from './server.ts';

// Composition root: config, clients and the app, built and wired here and nowhere else.
const config = loadConfigOrExit();
const logger = createLogger({ service: 'gateway', level: config.logLevel });
const stopTracing = startTracing('gateway', config);
// Uploads are checked and stripped of EXIF with sharp.
configureImageProcessing();
if (config.jwt.isDevelopmentDefault) {
  logger.warn(
    'JWT_SECRET is not set: using the built-in development secret. Set it for anything but local development.',
  );
}
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, 'producer', config.redisCluster);
const queues = new QueueRepository({ connection: redis, prefix: config.queuePrefix, retry: config.jobs });
const store = buildMediaStore(config, logger);
const serveLocalMedia = usesLocalStore(config);
if (serveLocalMedia) logger.info({ mediaDir: config.mediaDir }, 'serving the local disk store under /media/');

await runServer(
  { config, db, redis, queues, store, serveLocalMedia },
  {
    port: config.port,
    host: config.host,
    logger,
    onClose: async () => {
      await queues.close();
      redis.disconnect();
      await db.destroy();
      await stopTracing();
    },
  },
);
