import type { Config } from '@mediaflow/config';
import {
  type Db,
  GeneratedAssetsRepository,
  IDEMPOTENCY_KEY_TIMES,
  IdempotencyKeysRepository,
  JobsRepository,
  runExclusive,
  WebhookDeliveryRecorder,
  WebhooksRepository,
} from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { MediaStore } from '@mediaflow/providers';
import type { QueueRepository } from '@mediaflow/queue';
import { reconcile } from './reconcile.ts';
import {
  cleanUpExpiredAssets,
  deleteEndedJobInputs,
  deleteExpiredIdempotencyKeys,
  deleteFailedSubmissionUploads,
} from './retention.ts';
import { reconcileWebhookDeliveries } from './webhook-deliveries.ts';

export interface PeriodicTask {
  name: string;
  everyMs: number;
  run: () => Promise<number>;
  /** Work on this process's own disk (its spool): every replica runs it, not one at a time. */
  local?: boolean;
}

/**
 * The periodic duties: the reconcilers (of jobs, and of webhook deliveries) and retention (retention.ts),
 * each its own task so that one failing does not hold up the others. Any process may run them (the
 * storage worker's does); the advisory lock keeps each round to one replica.
 */
export function startMaintenance(options: {
  config: Pick<Config, 'reconcileIntervalMs' | 'cleanupIntervalMs' | 'tempAssetTtlMs'>;
  db: Db;
  store: MediaStore;
  queues: QueueRepository;
  logger: Logger;
}): () => Promise<void> {
  const jobs = new JobsRepository(options.db);
  const assets = new GeneratedAssetsRepository(options.db);
  const keys = new IdempotencyKeysRepository(options.db, IDEMPOTENCY_KEY_TIMES);
  const { reconcileIntervalMs, cleanupIntervalMs, tempAssetTtlMs } = options.config;
  return startPeriodicTasks(options.db, options.logger, [
    {
      name: 'reconcile',
      everyMs: reconcileIntervalMs,
      // Twice the interval: a job queued a moment ago is not mistaken for a lost one.
      run: () => reconcile({ jobs, queues: options.queues, logger: options.logger }, 2 * reconcileIntervalMs),
    },
    {
      name: 'reconcile-webhook-deliveries',
      everyMs: reconcileIntervalMs,
      run: () =>
        reconcileWebhookDeliveries(
          {
            deliveries: new WebhooksRepository(options.db),
            recorder: new WebhookDeliveryRecorder(options.db),
            queues: options.queues,
            logger: options.logger,
          },
          2 * reconcileIntervalMs,
        ),
    },
    {
      name: 'cleanup-expired-assets',
      everyMs: cleanupIntervalMs,
      run: () => cleanUpExpiredAssets({ assets, store: options.store }),
    },
    {
      name: 'retention-job-inputs',
      everyMs: cleanupIntervalMs,
      run: () => deleteEndedJobInputs({ jobs }),
    },
    {
      name: 'retention-idempotency-keys',
      everyMs: cleanupIntervalMs,
      run: () => deleteExpiredIdempotencyKeys({ keys }),
    },
    {
      name: 'retention-upload-objects',
      everyMs: cleanupIntervalMs,
      run: () => deleteFailedSubmissionUploads({ jobs, store: options.store, logger: options.logger }, tempAssetTtlMs),
    },
  ]);
}

/**
 * Runs each task every `everyMs`, on one replica at a time (a PostgreSQL advisory lock) unless it is
 * `local`. The timers live in the process, not in Redis, so they survive Redis losing its data. Returns a
 * stop function.
 */
export function startPeriodicTasks(db: Db, logger: Logger, tasks: PeriodicTask[]): () => Promise<void> {
  const running = new Set<Promise<unknown>>();
  const timers = tasks.map((task) =>
    setInterval(() => {
      const round = async () => {
        const count = await task.run();
        if (count > 0) logger.info({ task: task.name, count }, `${task.name} done`);
      };
      const run = (task.local ? round() : runExclusive(db, `mediaflow:${task.name}`, round))
        // A background loop: a failed round is logged and the next round tries again.
        .catch((err: unknown) => logger.error({ err, task: task.name }, `${task.name} failed; next round retries`))
        .finally(() => running.delete(run));
      running.add(run);
    }, task.everyMs),
  );
  return async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.all(running);
  };
}
