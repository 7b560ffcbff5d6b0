import {
  JOB_QUEUES,
  type JobContext,
  type JobPlan,
  type JobRefPayload,
  type JobRequest,
  type QueueName,
} from '@mediaflow/domain';
import { FlowProducer, type JobsOptions, Queue } from 'bullmq';
import { CAPPED_EXPONENTIAL, WEBHOOK_ATTEMPTS } from './backoff.ts';
import type { Redis } from './connection.ts';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Delay before the first retry; doubles each time, with jitter. */
  backoffMs: number;
  /** A webhook delivery's first retry delay (30 s when unset); see WEBHOOK_ATTEMPTS for its schedule. */
  webhookBackoffMs?: number;
}

/** The states BullMQ keeps a job in, as counted by `counts`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** A job BullMQ gave up on, as the admin routes list it. */
export interface FailedQueueJob {
  /** The job (generation or submission) in PostgreSQL it belongs to. */
  jobId: string;
  queueJobId: string;
  name: string;
  step: number | null;
  reason: string;
  attempts: number;
  failedAt: Date | null;
}

// BullMQ's copies of ended jobs; PostgreSQL keeps the lasting record of every job.
const KEEP_COMPLETED_S = 24 * 3600;
const KEEP_FAILED_S = 7 * 24 * 3600;

/**
 * The queues, behind one repository: the only code besides the worker runtime and the Bull Board
 * adapter that knows BullMQ. The BullMQ job id is the job's PostgreSQL row id (and step), so adding one
 * twice is harmless.
 */
export class QueueRepository {
  private readonly queues = new Map<QueueName, Queue>();
  private flows: FlowProducer | undefined;
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly retry: RetryPolicy;

  constructor(options: { connection: Redis; prefix: string; retry: RetryPolicy }) {
    this.connection = options.connection;
    this.prefix = options.prefix;
    this.retry = options.retry;
  }

  /** Queues a job's plan: a single job, or a chain whose last job runs once the others have completed. */
  async enqueue(plan: JobPlan): Promise<void> {
    if (plan.first && plan.first.length > 0) await this.addChain(plan.first, plan.last, plan.context);
    else await this.add(plan.last, plan.context);
  }

  /** Queues a plan anew: whatever BullMQ still holds of it goes first, so every job of it runs again. */
  async requeue(plan: JobPlan): Promise<void> {
    await this.remove([...(plan.first ?? []), plan.last]);
    await this.enqueue(plan);
  }

  async add(request: JobRequest, context?: JobContext): Promise<void> {
    await this.queue(JOB_QUEUES[request.name]).add(request.name, data(request, context), this.options(request));
  }

  /**
   * A chain: `last` runs once every one of `first` has completed (a BullMQ flow, atomically added).
   * A child's final failure fails the parent, so nothing is written from half a submission.
   */
  async addChain(first: JobRequest[], last: JobRequest, context?: JobContext): Promise<void> {
    if (!this.flows) {
      this.flows = new FlowProducer({ connection: this.connection, prefix: this.prefix });
      this.flows.on('error', () => {});
    }
    await this.flows.add({
      name: last.name,
      queueName: JOB_QUEUES[last.name],
      data: data(last, context),
      opts: this.options(last),
      children: first.map((child) => ({
        name: child.name,
        queueName: JOB_QUEUES[child.name],
        data: data(child, context),
        opts: { ...this.options(child), failParentOnFailure: true },
      })),
    });
  }

  /**
   * Where BullMQ holds the job now, why it failed if it did, and how many attempts it has been charged;
   * undefined once BullMQ has lost or dropped it.
   */
  async state(request: JobRequest): Promise<{ state: string; failedReason: string; attemptsMade: number } | undefined> {
    const queue = this.queue(JOB_QUEUES[request.name]);
    const id = bullmqId(request);
    // The state first: a reason read before it could predate a failure that the state then shows.
    const state = await queue.getJobState(id);
    if (state === 'unknown') return undefined;
    const job = await queue.getJob(id);
    return { state, failedReason: job?.failedReason ?? '', attemptsMade: job?.attemptsMade ?? 0 };
  }

  /** Removes these jobs' BullMQ entries (a chain's last job takes its children with it). */
  async remove(requests: JobRequest[]): Promise<void> {
    for (const request of [...requests].reverse()) {
      await this.queue(JOB_QUEUES[request.name]).remove(bullmqId(request));
    }
  }

  /** How many jobs the queue holds in each state. */
  async counts(name: QueueName): Promise<Record<QueueState, number>> {
    const counts = await this.queue(name).getJobCounts(...QUEUE_STATES);
    return Object.fromEntries(QUEUE_STATES.map((state) => [state, counts[state] ?? 0])) as Record<QueueState, number>;
  }

  /** How many worker connections take jobs from the queue now. */
  async workerCount(name: QueueName): Promise<number> {
    return this.queue(name).getWorkersCount();
  }

  /** The queue's failed jobs, newest first. */
  async failed(name: QueueName, limit: number): Promise<FailedQueueJob[]> {
    const jobs = await this.queue(name).getFailed(0, limit - 1);
    return jobs.map((job) => {
      const payload = job.data as JobRefPayload;
      return {
        jobId: String(payload.jobId),
        queueJobId: String(job.id),
        name: job.name,
        step: typeof payload.step === 'number' ? payload.step : null,
        reason: job.failedReason ?? '',
        attempts: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn) : null,
      };
    });
  }

  /** The BullMQ queues themselves, for the Bull Board adapter only: everything else goes through here. */
  boardQueues(names: readonly QueueName[]): Queue[] {
    return names.map((name) => this.queue(name));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await this.flows?.close();
  }

  private options(request: JobRequest): JobsOptions {
    return {
      jobId: bullmqId(request),
      attempts: this.retry.attempts,
      backoff: { type: 'exponential', delay: this.retry.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: KEEP_COMPLETED_S },
      removeOnFail: { age: KEEP_FAILED_S },
      ...this.kindOptions(request),
    };
  }

  /** Where a job kind is retried on a schedule of its own. */
  private kindOptions(request: JobRequest): JobsOptions {
    switch (request.name) {
      // A receiver that is down is given about a day to come back (backoff.ts).
      case 'deliver-webhook':
        return {
          attempts: WEBHOOK_ATTEMPTS,
          backoff: { type: CAPPED_EXPONENTIAL, delay: this.retry.webhookBackoffMs ?? 30_000 },
        };
      default:
        return {};
    }
  }

  private queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      // Connection trouble shows as the failing call itself (a 503, a failed round); BullMQ's fallback for an
      // unheard 'error' would print it to stderr besides.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }
}

/** One BullMQ job per PostgreSQL job (or step of one): adding it again is a no-op. */
function bullmqId(request: JobRequest): string {
  const { payload } = request;
  return 'step' in payload ? `${payload.jobId}-${payload.step}` : payload.jobId;
}

/** A job's data: its payload, and the context of the request it came from. */
function data(request: JobRequest, context: JobContext | undefined): JobRefPayload {
  return context ? { ...request.payload, context } : request.payload;
}
