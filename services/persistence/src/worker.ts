import type { Config } from '@mediaflow/config';
import { BlogsRepository, type Db, JobsRepository, PostsRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import { type Redis, startWorker, type Worker } from '@mediaflow/queue';
import { handlers } from './handlers.ts';

/** The persistence worker, wired to its clients; main.ts and the tests both build it here. */
export function startPersistenceWorker(options: {
  config: Pick<Config, 'queuePrefix' | 'jobs' | 'persistenceConcurrency'>;
  db: Db;
  connection: Redis;
  logger: Logger;
}): Worker {
  const jobs = new JobsRepository(options.db);
  return startWorker({
    queue: 'persistence',
    handlers,
    deps: { jobs, posts: new PostsRepository(options.db), blogs: new BlogsRepository(options.db) },
    connection: options.connection,
    prefix: options.config.queuePrefix,
    concurrency: options.config.persistenceConcurrency,
    lockMs: options.config.jobs.lockMs,
    recorder: jobs,
    logger: options.logger,
  });
}
