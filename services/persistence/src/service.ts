import { BlogsRepository, JobsRepository, PostsRepository } from '@mediaflow/db';
import type { WorkerService } from '@mediaflow/runtime';
import { handlers } from './handlers.ts';
import type { PersistenceDeps } from './persist.ts';

/** The persistence worker: writes posts and blogs once their media are promoted. */
export const persistenceService: WorkerService<'persistence', PersistenceDeps> = {
  service: 'persistence',
  handlers,
  concurrency: (config) => config.persistenceConcurrency,
  shutdownDeadlineMs: 30_000,
  buildDeps: ({ db }) => {
    const jobs = new JobsRepository(db);
    return {
      inStepCommit: (ref, write) =>
        jobs.completeInCommit({ jobId: ref.jobId, step: ref.step }, (trx) =>
          write({ jobs: new JobsRepository(trx), posts: new PostsRepository(trx), blogs: new BlogsRepository(trx) }),
        ),
    };
  },
};
