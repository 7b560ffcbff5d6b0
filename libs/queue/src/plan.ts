import type { JobsRepository } from '@mediaflow/db';
import type { JobContext, JobRequest } from './contracts.ts';
import type { JobProducer } from './producer.ts';

/**
 * Everything needed to queue a job again, kept as the job's `payload` in PostgreSQL: a single job is
 * `last` alone; a submission's chain has `first` (they run before `last`). Because PostgreSQL holds it,
 * work accepted before Redis lost its data can be queued again.
 */
export interface JobPlan {
  first?: JobRequest[];
  last: JobRequest;
  /** What a person reading the jobs table wants to know about the submission. */
  summary?: unknown;
  /** The request it came from; a job queued again keeps it, so its logs still join up. */
  context?: JobContext;
}

export async function enqueuePlan(producer: JobProducer, plan: JobPlan): Promise<void> {
  if (plan.first && plan.first.length > 0) await producer.addChain(plan.first, plan.last, plan.context);
  else await producer.add(plan.last, plan.context);
}

/**
 * Runs a job again from its plan: its BullMQ entries go, its unfinished steps go back to queued, and the
 * plan is queued anew. Steps that completed run again harmlessly: every handler is idempotent.
 */
export async function requeue(
  deps: { producer: JobProducer; jobs: Pick<JobsRepository, 'resetForRetry'> },
  jobId: string,
  plan: JobPlan,
): Promise<void> {
  await deps.producer.remove([...(plan.first ?? []), plan.last]);
  await deps.jobs.resetForRetry(jobId);
  await enqueuePlan(deps.producer, plan);
}
