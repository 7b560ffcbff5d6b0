import { type Db, type GeneratedAssetsRepository, type JobsRepository, runExclusive } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import { generatedImageMedia, type MediaStore } from '@mediaflow/providers';
import { type JobPlan, type JobProducer, requeue } from '@mediaflow/queue';
import { tempAssetsCleaned } from '@mediaflow/telemetry';

const BATCH = 100;

/**
 * Brings PostgreSQL and BullMQ back in line for accepted jobs that have not finished:
 * - one BullMQ no longer holds (Redis restarted without persistence, was flushed, or evicted it) is
 *   queued again from its plan;
 * - one BullMQ has given up on without the worker recording it (a job whose workers kept dying is
 *   failed by BullMQ's stalled-job check) is recorded as failed, with BullMQ's reason.
 * A job is left alone for `graceMs` after it last moved, so one being queued right now is not touched.
 * Answers how many jobs it set right.
 */
export async function reconcile(
  deps: { jobs: JobsRepository; producer: JobProducer; logger: Logger },
  graceMs: number,
): Promise<number> {
  let fixed = 0;
  for (const job of await deps.jobs.findUnfinishedBefore(new Date(Date.now() - graceMs), BATCH)) {
    const plan = job.payload as JobPlan;
    const queued = await deps.producer.find(plan.last);
    if (!queued) {
      deps.logger.warn({ jobId: job.id, kind: job.kind }, 'accepted job missing from its queue; queueing it again');
      await requeue(deps, job.id, plan);
      fixed++;
    } else if ((await queued.getState()) === 'failed') {
      const message = queued.failedReason || 'the queue gave up on this job';
      deps.logger.warn(
        { jobId: job.id, reason: message },
        'job failed in its queue without being recorded; recording it',
      );
      await deps.jobs.markFailed({ jobId: job.id }, { code: 'internal', message, retryable: false });
      fixed++;
    }
  }
  return fixed;
}

/** Deletes generated images nobody promoted within TEMP_ASSET_TTL from their store, and marks them deleted. */
export async function cleanUpExpiredAssets(deps: {
  assets: GeneratedAssetsRepository;
  store: MediaStore;
}): Promise<number> {
  let deleted = 0;
  for (const asset of await deps.assets.findExpired(new Date(), BATCH)) {
    await deps.store.delete(generatedImageMedia(asset));
    if (await deps.assets.markDeleted(asset.id)) {
      deleted++;
      tempAssetsCleaned.inc({ provider: asset.provider });
    }
  }
  return deleted;
}

export interface PeriodicTask {
  name: string;
  everyMs: number;
  run: () => Promise<number>;
}

/**
 * Runs each task every `everyMs`, on one replica at a time (a PostgreSQL advisory lock). The timers live
 * in the process, not in Redis, so they survive Redis losing its data. Returns a stop function.
 */
export function startPeriodicTasks(db: Db, logger: Logger, tasks: PeriodicTask[]): () => Promise<void> {
  const running = new Set<Promise<unknown>>();
  const timers = tasks.map((task) =>
    setInterval(() => {
      const run = runExclusive(db, `mediaflow:${task.name}`, async () => {
        const count = await task.run();
        if (count > 0) logger.info({ task: task.name, count }, `${task.name} done`);
      })
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
