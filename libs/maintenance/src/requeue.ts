import type { JobsRepository } from '@mediaflow/db';
import type { JobPlan } from '@mediaflow/domain';
import type { QueueRepository } from '@mediaflow/queue';

/**
 * Runs a job again from its plan: its unfinished steps go back to queued, and the plan is queued anew
 * (whatever BullMQ still holds of it removed first). Steps that completed run again harmlessly: every
 * handler is idempotent. The row is reset first, so if Redis fails midway the reconciler finds a queued
 * job that its queue does not hold, and queues it.
 */
export async function requeueJob(
  deps: { jobs: Pick<JobsRepository, 'resetForRetry'>; queues: Pick<QueueRepository, 'requeue'> },
  job: { id: string; payload: JobPlan },
): Promise<void> {
  await deps.jobs.resetForRetry(job.id);
  await deps.queues.requeue(job.payload);
}
