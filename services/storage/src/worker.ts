import type { Config } from '@mediaflow/config';
import { type Db, GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { MediaStore } from '@mediaflow/providers';
import { type Redis, startWorker, type Worker } from '@mediaflow/queue';
import { handlers } from './handlers.ts';

/** The storage worker, wired to its clients; main.ts and the tests both build it here. */
export function startStorageWorker(options: {
  config: Pick<Config, 'queuePrefix' | 'storageConcurrency'>;
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
    recorder: new JobsRepository(options.db),
    logger: options.logger,
  });
}
