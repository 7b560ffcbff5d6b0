import type { Config } from '@mediaflow/config';
import { type Db, GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { ImageGenerator, MediaStore } from '@mediaflow/providers';
import { type Redis, startWorker, type Worker } from '@mediaflow/queue';
import { handlers } from './handlers.ts';

/** The generation worker, wired to its clients; main.ts and the tests both build it here. */
export function startGeneratorWorker(options: {
  config: Pick<Config, 'queuePrefix' | 'jobs' | 'generatorConcurrency' | 'tempAssetTtlMs'>;
  db: Db;
  connection: Redis;
  generator: ImageGenerator;
  store: MediaStore;
  logger: Logger;
}): Worker {
  const jobs = new JobsRepository(options.db);
  return startWorker({
    queue: 'generation',
    handlers,
    deps: {
      jobs,
      assets: new GeneratedAssetsRepository(options.db),
      generator: options.generator,
      store: options.store,
      tempAssetTtlMs: options.config.tempAssetTtlMs,
    },
    connection: options.connection,
    prefix: options.config.queuePrefix,
    concurrency: options.config.generatorConcurrency,
    lockMs: options.config.jobs.lockMs,
    recorder: jobs,
    logger: options.logger,
  });
}
