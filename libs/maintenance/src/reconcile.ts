import type { JobsRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { QueueRepository } from '@mediaflow/queue';
import { requeueJob } from './requeue.ts';

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
  deps: { jobs: JobsRepository; queues: QueueRepository; logger: Logger },
  graceMs: number,
): Promise<number> {
  let fixed = 0;
  for (const job of await deps.jobs.findUnfinishedBefore(new Date(Date.now() - graceMs), BATCH)) {
    const queued = await deps.queues.state(job.payload.last);
    if (!queued) {
      deps.logger.warn({ jobId: job.id, kind: job.kind }, 'accepted job missing from its queue; queueing it again');
      await requeueJob(deps, job);
      fixed++;
    } else if (queued.state === 'failed') {
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
