import type { JobsRepository } from '@mediaflow/db';
import { type JobStatusView, type QueueName, toJobStatusView } from '@mediaflow/domain';
import { JobNotRequeueable, requeueJob } from '@mediaflow/maintenance';
import type { FailedQueueJob, QueueRepository } from '@mediaflow/queue';
import { type Caller, requireAdmin } from './caller.ts';
import { HttpError } from './errors.ts';

/** Failed jobs listed at most, newest first. */
const FAILED_LIST_LIMIT = 200;
/** Failed queue entries looked at when a whole queue is retried. */
const RETRY_SCAN_LIMIT = 1000;

/** A job as its owner polls it: its outcome once it has one, and a submission's steps. */
export type JobView = JobStatusView;

export interface JobsDeps {
  jobs: Pick<JobsRepository, 'findForOwner' | 'findById' | 'resetForRetry'>;
  queues: Pick<QueueRepository, 'failed' | 'requeue'>;
}

/**
 * Jobs after they were accepted: their state for their owner (from PostgreSQL; another user's job is
 * not found, never shown), and for admins, the queues' failed jobs and running them again.
 */
export class Jobs {
  private readonly deps: JobsDeps;

  constructor(deps: JobsDeps) {
    this.deps = deps;
  }

  async status(ownerId: string, jobId: string): Promise<JobView> {
    const job = await this.deps.jobs.findForOwner(jobId, ownerId);
    if (!job) throw new HttpError(404, 'not_found', `no job ${jobId}`);
    return toJobStatusView(job);
  }

  /** A queue's failed jobs, newest first, with their reasons. Admins only. */
  async failed(caller: Caller, queue: QueueName): Promise<FailedQueueJob[]> {
    requireAdmin(caller);
    return this.deps.queues.failed(queue, FAILED_LIST_LIMIT);
  }

  /** Runs a failed job (or submission) again from its plan in PostgreSQL. Admins only. */
  async retry(caller: Caller, jobId: string): Promise<{ jobId: string; status: 'queued' }> {
    requireAdmin(caller);
    const job = await this.deps.jobs.findById(jobId);
    if (!job) throw new HttpError(404, 'not_found', `no job ${jobId}`);
    if (job.status !== 'failed') throw new HttpError(409, 'conflict', `job ${job.id} is ${job.status}, not failed`);
    await requeueJob(this.deps, job);
    return { jobId, status: 'queued' };
  }

  /** Runs every failed job of a queue again; the ids of those queued again. Admins only. */
  async retryFailed(caller: Caller, queue: QueueName): Promise<string[]> {
    requireAdmin(caller);
    const failed = await this.deps.queues.failed(queue, RETRY_SCAN_LIMIT);
    const retried: string[] = [];
    for (const jobId of new Set(failed.map((entry) => entry.jobId))) {
      const job = await this.deps.jobs.findById(jobId);
      if (job?.status !== 'failed') continue;
      try {
        await requeueJob(this.deps, job);
      } catch (error) {
        // One that cannot run again (its reference image is gone) is left as it is; the rest go on.
        if (error instanceof JobNotRequeueable) continue;
        throw error;
      }
      retried.push(jobId);
    }
    return retried;
  }
}
