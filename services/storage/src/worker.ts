import type { Config } from '@mediaflow/config';
import { type Db, GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { MediaStore } from '@mediaflow/providers';
import { type JobProducer, type Redis, startWorker, type Worker } from '@mediaflow/queue';
import { handlers } from './handlers.ts';
import { cleanUpExpiredAssets, reconcile, startPeriodicTasks } from './maintenance.ts';

/** The storage worker, wired to its clients; main.ts and the tests both build it here. */
export function startStorageWorker(options: {
  config: Pick<Config, 'queuePrefix' | 'jobs' | 'storageConcurrency'>;
  db: Db;
  connection: Redis;
  store: MediaStore;
  logger: Logger;
}): Worker {
  return startWorker({
    queue: 'storage',
    handlers,
    deps: { store: options.store, assets: new GeneratedAssetsRepository(options.db) },
    connection: options.connection,
    prefix: options.config.queuePrefix,
    concurrency: options.config.storageConcurrency,
    lockMs: options.config.jobs.lockMs,
    recorder: new JobsRepository(options.db),
    logger: options.logger,
  });
}

/** The storage worker's periodic duties: the reconciler and the cleanup of expired temporary assets. */
export function startMaintenance(options: {
  config: Pick<Config, 'reconcileIntervalMs' | 'cleanupIntervalMs'>;
  db: Db;
  store: MediaStore;
  producer: JobProducer;
  logger: Logger;
}): () => Promise<void> {
  const jobs = new JobsRepository(options.db);
  const assets = new GeneratedAssetsRepository(options.db);
  const { reconcileIntervalMs, cleanupIntervalMs } = options.config;
  return startPeriodicTasks(options.db, options.logger, [
    {
      name: 'reconcile',
      everyMs: reconcileIntervalMs,
      // Twice the interval: a job queued a moment ago is not mistaken for a lost one.
      run: () => reconcile({ jobs, producer: options.producer, logger: options.logger }, 2 * reconcileIntervalMs),
    },
    {
      name: 'cleanup-expired-assets',
      everyMs: cleanupIntervalMs,
      run: () => cleanUpExpiredAssets({ assets, store: options.store }),
    },
  ]);
}
