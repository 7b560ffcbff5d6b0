import { FlowProducer, type Job, type JobsOptions, Queue } from 'bullmq';
import type { Redis } from './connection.ts';
import { JOB_QUEUES, type JobContext, type JobRefPayload, type JobRequest, type QueueName } from './contracts.ts';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Delay before the first retry; doubles each time, with jitter. */
  backoffMs: number;
}

// BullMQ's copies of ended jobs; PostgreSQL keeps the lasting record of every job.
const KEEP_COMPLETED_S = 24 * 3600;
const KEEP_FAILED_S = 7 * 24 * 3600;

/** Puts jobs on their queues. The job id is the job's PostgreSQL row id, so adding one twice is harmless. */
export class JobProducer {
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

  async add(request: JobRequest, context?: JobContext): Promise<void> {
    await this.queue(JOB_QUEUES[request.name]).add(request.name, data(request, context), this.options(request));
  }

  /**
   * A chain: `last` runs once every one of `first` has completed (a BullMQ flow, atomically added).
   * A child's final failure fails the parent, so nothing is written from half a submission.
   */
  async addChain(first: JobRequest[], last: JobRequest, context?: JobContext): Promise<void> {
    this.flows ??= new FlowProducer({ connection: this.connection, prefix: this.prefix });
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

  /** The job as BullMQ holds it now, in any state; undefined once BullMQ has lost or dropped it. */
  async find(request: JobRequest): Promise<Job | undefined> {
    return this.queue(JOB_QUEUES[request.name]).getJob(this.bullmqId(request));
  }

  /** Removes these jobs' BullMQ entries (a chain's last job takes its children with it). */
  async remove(requests: JobRequest[]): Promise<void> {
    for (const request of [...requests].reverse()) {
      await this.queue(JOB_QUEUES[request.name]).remove(this.bullmqId(request));
    }
  }

  /** One BullMQ job per PostgreSQL job (or step of one): adding it again is a no-op. */
  private bullmqId(request: JobRequest): string {
    const { jobId, step } = request.payload as JobRefPayload;
    return step === undefined ? jobId : `${jobId}-${step}`;
  }

  private options(request: JobRequest): JobsOptions {
    return {
      jobId: this.bullmqId(request),
      attempts: this.retry.attempts,
      backoff: { type: 'exponential', delay: this.retry.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: KEEP_COMPLETED_S },
      removeOnFail: { age: KEEP_FAILED_S },
    };
  }

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await this.flows?.close();
  }
}

/** A job's data: its payload, and the context of the request it came from. */
function data(request: JobRequest, context: JobContext | undefined): JobRefPayload {
  return context ? { ...request.payload, context } : request.payload;
}
