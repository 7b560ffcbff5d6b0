import { GeneratedAssetsRepository } from '@mediaflow/db';
import { startMaintenance } from '@mediaflow/maintenance';
import { buildMediaStore } from '@mediaflow/providers';
import type { WorkerService } from '@mediaflow/runtime';
import { handlers } from './handlers.ts';
import type { StorageDeps } from './promote-media.ts';

/**
 * The storage worker: promotes temporary files into their permanent folders. Its process also runs the
 * maintenance duties (reconciler, expired assets), which need a store and the queues.
 */
export const storageService: WorkerService<'storage', StorageDeps> = {
  service: 'storage',
  handlers,
  concurrency: (config) => config.storageConcurrency,
  // A large video can take a while.
  shutdownDeadlineMs: 120_000,
  buildDeps: ({ config, db, logger }) => ({
    store: buildMediaStore(config, logger),
    assets: new GeneratedAssetsRepository(db),
  }),
  describe: (deps) => `store ${deps.store.name}`,
  background: (deps, { config, db, queues, logger }) =>
    startMaintenance({ config, db, store: deps.store, queues, logger }),
};
