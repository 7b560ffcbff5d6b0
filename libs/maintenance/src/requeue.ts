import type { JobRow, JobsRepository } from '@mediaflow/db';
import type { QueueRepository } from '@mediaflow/queue';

/**
 * A job that cannot run again. `statusCode` 409: the gateway answers it as a conflict, with this message.
 */
export class JobNotRequeueable extends Error {
  readonly statusCode = 409;
  constructor(message: string) {
    super(message);
    this.name = 'JobNotRequeueable';
  }
}

/**
 * Runs a job again from its plan: its unfinished steps go back to queued, and the plan is queued anew
 * (whatever BullMQ still holds of it removed first). Steps that completed run again harmlessly: every
 * handler is idempotent. The row is reset first, so if Redis fails midway the reconciler finds a queued
 * job that its queue does not hold, and queues it.
 *
 * A generation with a reference image that has ended is refused: retention deletes an ended job's inputs,
 * so its run would only fail in the worker for want of the image.
 */
export async function requeueJob(
  deps: { jobs: Pick<JobsRepository, 'resetForRetry'>; queues: Pick<QueueRepository, 'requeue'> },
  job: Pick<JobRow, 'id' | 'status' | 'payload'>,
): Promise<void> {
  const { last } = job.payload;
  const ended = job.status === 'completed' || job.status === 'failed';
  if (ended && last.name === 'generate-image' && last.payload.hasReference) {
    throw new JobNotRequeueable(
      `job ${job.id} cannot run again: its reference image is deleted once the job ends; submit the generation again`,
    );
  }
  await deps.jobs.resetForRetry(job.id);
  await deps.queues.requeue(job.payload);
}
