import type {
  JobErrorRecord,
  JobNamesOf,
  JobPayload,
  JobRef,
  JobRefPayload,
  JobResult,
  QueueName,
} from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { contextFrom, inSpan, jobDuration, SpanKind } from '@mediaflow/telemetry';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from './connection.ts';
import { describeFailure } from './errors.ts';

/** A worker's handlers, one per job kind of its queue: plain async functions of (payload, deps). */
export type HandlerMap<Q extends QueueName, Deps> = {
  [N in JobNamesOf<Q>]: (payload: JobPayload<N>, deps: Deps) => Promise<JobResult<N>>;
};

/** Where a job's state is kept as it moves (the jobs table); the poller reads it from there. */
export interface JobStateRecorder {
  /** False when there is nothing to run: no such job, or it has already ended. */
  markActive(ref: JobRef): Promise<boolean>;
  markCompleted(ref: JobRef, result: JobResult<JobNamesOf<QueueName>>): Promise<void>;
  markRetrying(ref: JobRef, error: JobErrorRecord): Promise<void>;
  markFailed(ref: JobRef, error: JobErrorRecord): Promise<void>;
}

export interface WorkerOptions<Q extends QueueName, Deps> {
  queue: Q;
  handlers: HandlerMap<Q, Deps>;
  deps: Deps;
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** How long a hold on a job lasts without renewal; a crashed worker's jobs run again after it. */
  lockMs: number;
  recorder: JobStateRecorder;
  logger: Logger;
}

/**
 * Runs a queue's handlers and records each attempt's outcome in PostgreSQL. Permanent failures
 * (bad input, a provider's final no) leave as UnrecoverableError so BullMQ does not retry them.
 */
export function startWorker<Q extends QueueName, Deps>(options: WorkerOptions<Q, Deps>): QueueWorker {
  const { handlers, deps, recorder, logger } = options;
  const runAttempt = async (job: Job<JobRefPayload>): Promise<unknown> => {
    const handler = handlers[job.name as JobNamesOf<Q>] as
      | ((payload: unknown, deps: Deps) => Promise<JobResult<JobNamesOf<Q>>>)
      | undefined;
    const ref = { jobId: job.data.jobId, ...(job.data.step !== undefined ? { step: job.data.step } : {}) };
    if (!handler) {
      // A worker deployed out of step with the job contracts: the job fails, and its poller hears why.
      const message = `queue "${options.queue}" has no handler for job "${job.name}"`;
      await recorder.markFailed(ref, { code: 'internal', message, retryable: false });
      throw new UnrecoverableError(message);
    }
    const attempt = job.attemptsMade + 1;
    const log = logger.child({ ...ref, job: job.name, attempt, requestId: job.data.context?.requestId });
    const runnable = await recorder.markActive(ref).catch((error: unknown) => {
      // PostgreSQL is away: BullMQ runs the attempt again after its backoff.
      log.warn({ err: error }, 'could not record the job as started; it will be retried');
      throw error;
    });
    if (!runnable) {
      // Its row is gone (queueing it "failed" and the gateway withdrew it) or it has ended: no work to do.
      throw new UnrecoverableError(`job ${ref.jobId} is not waiting to run; nothing to do`);
    }
    log.info('job started');
    const stopTimer = jobDuration.startTimer({ kind: job.name });
    try {
      const result = await handler(job.data, deps);
      await recorder.markCompleted(ref, result);
      stopTimer({ outcome: 'completed' });
      log.info('job completed');
      return result;
    } catch (error) {
      const failure = describeFailure(error);
      const final = !failure.retryable || attempt >= (job.opts.attempts ?? 1);
      stopTimer({ outcome: final ? 'failed' : 'retry' });
      // Logged before it is recorded: recording needs PostgreSQL, which may be what failed.
      if (final) {
        log.error({ err: error, code: failure.code }, 'job failed');
        await recorder.markFailed(ref, failure);
      } else {
        log.warn({ err: error, code: failure.code }, 'job attempt failed; it will be retried');
        await recorder.markRetrying(ref, failure);
      }
      if (!failure.retryable && !(error instanceof UnrecoverableError)) {
        throw Object.assign(new UnrecoverableError(failure.message), { cause: error });
      }
      throw error;
    }
  };
  // Each attempt is a span that continues the trace of the request the job came from.
  const run = (job: Job<JobRefPayload>): Promise<unknown> =>
    inSpan(
      `${options.queue} ${job.name}`,
      {
        kind: SpanKind.CONSUMER,
        parent: contextFrom(job.data.context),
        attributes: {
          'messaging.system': 'bullmq',
          'mediaflow.job_id': job.data.jobId,
          'mediaflow.attempt': job.attemptsMade + 1,
        },
      },
      () => runAttempt(job),
    );
  const worker = new Worker(options.queue, run, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    // A job whose worker died twice is still given a third run before it counts as failed.
    maxStalledCount: 2,
  });
  // Connection trouble and the like: BullMQ reconnects by itself, so it is reported, not fatal.
  worker.on('error', (err) => logger.error({ err, queue: options.queue }, 'worker error'));
  return {
    pause: () => worker.pause(true),
    resume: () => worker.resume(),
    close: (force) => worker.close(force),
  };
}

/** A running worker: it stops taking jobs on pause (what runs finishes) and on close. */
export interface QueueWorker {
  pause(): Promise<void>;
  resume(): void;
  /** Waits for running jobs unless `force`. */
  close(force?: boolean): Promise<void>;
}
