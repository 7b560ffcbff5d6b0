import {
  type AttemptCount,
  type JobCompletion,
  type JobErrorRecord,
  type JobNamesOf,
  type JobPayload,
  type JobRef,
  type JobRefPayload,
  type JobResult,
  type JobStartOutcome,
  type QueueName,
  quotaRetryAfterMs,
  type StepCommit,
} from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { contextFrom, inSpan, jobDuration, SpanKind, workerPausedSeconds } from '@mediaflow/telemetry';
import { DelayedError, type Job, Queue, RateLimitError, UnrecoverableError, Worker } from 'bullmq';
import { backoffStrategy } from './backoff.ts';
import type { Redis } from './connection.ts';
import { describeFailure } from './errors.ts';
import { jitter, Outage } from './outage.ts';
import { withTimeout } from './timeout.ts';

/** How soon a worker tries again to fetch its next job after the fetch failed (BullMQ's runRetryDelay). */
const FETCH_RETRY_DELAY_MS = 1_000;

/** A quota error without a delay of its own waits this long. */
const DEFAULT_QUOTA_WAIT_MS = 30_000;
/**
 * A job is put back for a provider's quota only while it is younger than this; after it, quota errors
 * count as ordinary failed attempts, so that an exhausted daily quota cannot hold a job forever.
 */
const MAX_QUOTA_WAIT_MS = 6 * 3_600_000;
/** How long the check "is the database there?" may take before the answer is no. */
const PROBE_TIMEOUT_MS = 5_000;

/** A worker's handlers, one per job kind of its queue: plain async functions of (payload, deps). */
export type HandlerMap<Q extends QueueName, Deps> = {
  [N in JobNamesOf<Q>]: Handler<N, Deps> | CommittingHandler<N, Deps>;
};

/** The usual handler: the runtime records the attempt's start before it runs and its end after. */
export type Handler<N extends JobNamesOf<QueueName>, Deps> = (
  payload: JobPayload<N>,
  deps: Deps,
) => Promise<JobResult<N>>;

/**
 * A handler whose own commit records its attempt's start and completion with its writes
 * (`JobsRepository.completeInCommit`): one commit where the runtime's own records would add two. The
 * runtime records only a failure, counting the attempt its start did not record.
 */
export interface CommittingHandler<N extends JobNamesOf<QueueName>, Deps> {
  inOwnCommit: (payload: JobPayload<N>, deps: Deps) => Promise<StepCommit<JobResult<N>>>;
}

/** Where a job's state is kept as it moves (the jobs table); the poller reads it from there. */
export interface JobStateRecorder {
  markActive(ref: JobRef): Promise<JobStartOutcome>;
  markCompleted(ref: JobRef, result: JobResult<JobNamesOf<QueueName>>): Promise<JobCompletion>;
  /** With `countAttempt`, the attempt is counted here: its start was not recorded (a committing handler). */
  markRetrying(ref: JobRef, error: JobErrorRecord, options?: AttemptCount): Promise<void>;
  /** Answers the ids of the webhook deliveries its commit wrote. */
  markFailed(ref: JobRef, error: JobErrorRecord, options?: AttemptCount): Promise<string[]>;
  /** Back to queued with `note` (its attempt taken back when `uncount`), unless it has moved since `since`. */
  markWaiting(ref: JobRef, note: JobErrorRecord, options: { since: Date; uncount: boolean }): Promise<void>;
  /** Resolves when the record answers; throws while it cannot be reached. */
  ping(): Promise<void>;
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
  /** Jobs started per minute across every worker of the queue (BullMQ's queue-wide limiter); none when unset. */
  maxPerMinute?: number;
  /**
   * Told after each change of a job's recorded state has been committed (so a listener reading PostgreSQL
   * sees it), with `ended` when the whole job has just completed or failed. A listener's failure is
   * logged and never fails the job.
   */
  onChange?: (change: JobChange) => unknown;
}

/** A job whose recorded state has just changed. */
export interface JobChange {
  ref: JobRef;
  ended?: 'completed' | 'failed';
  /** The webhook deliveries the change's commit wrote (a job's end), to be queued. */
  deliveries?: string[];
}

/**
 * Runs a queue's handlers and records each attempt's outcome in PostgreSQL. Permanent failures
 * (bad input, a provider's final no) leave as UnrecoverableError so BullMQ does not retry them.
 *
 * The platform's outages are not charged to the job:
 * - PostgreSQL unreachable (an attempt could not be recorded, or failed while the database was away):
 *   the job goes back to the queue, delayed, without counting an attempt; the worker takes no new jobs
 *   and probes the database with backoff until it answers, then notes each job put back as queued
 *   ("waiting for the database") and carries on.
 * - Redis unreachable: BullMQ's own calls wait for it; the outage is logged once, with its length.
 * - A provider's quota (429): the whole queue waits out the delay the provider asked for, in every
 *   process, and the job runs again without counting an attempt.
 */
export function startWorker<Q extends QueueName, Deps>(options: WorkerOptions<Q, Deps>): QueueWorker {
  const { handlers, deps, recorder, logger } = options;
  // For the queue-wide quota pause: BullMQ's limiter key, which every worker of the queue reads.
  const limiter = new Queue(options.queue, { connection: options.connection, prefix: options.prefix });
  // Its only call (rateLimit) reports its own failure; the worker's 'error' handler logs connection trouble.
  limiter.on('error', () => {});
  let worker: Worker | undefined;
  const database = new Outage({
    dependency: 'database',
    queue: options.queue,
    probe: () => recorder.ping(),
    logger,
    onDown: () => worker?.pause(true),
    onUp: () => worker?.resume(),
  });
  watchRedis(options.connection, options.queue, logger);

  /** Tells the listener of a committed change; its failure is logged, never the job's. */
  const changed = async (ref: JobRef, ended?: JobChange['ended'], deliveries: string[] = []): Promise<void> => {
    if (!options.onChange) return;
    try {
      await options.onChange(ended ? { ref, ended, deliveries } : { ref });
    } catch (err) {
      logger.warn({ err, ...ref }, 'could not announce a change of job state');
    }
  };

  /** True when PostgreSQL does not answer now (or an outage is already under way). */
  const databaseAway = async (): Promise<boolean> => {
    if (database.isDown) return true;
    try {
      await withTimeout(recorder.ping(), PROBE_TIMEOUT_MS, 'the database');
      return false;
    } catch {
      return true;
    }
  };

  /**
   * Back to the queue, delayed, with no attempt counted: the database is away. Once it is back, the job is
   * noted as waiting, and the attempt its start recorded (`started`) is taken back.
   */
  const putBack = async (
    job: Job<JobRefPayload>,
    token: string | undefined,
    ref: JobRef,
    error: unknown,
    started: boolean,
  ) => {
    const since = new Date();
    database.report(error, async () => {
      await recorder.markWaiting(
        ref,
        { code: 'dependency_unavailable', message: 'waiting for the database to come back', retryable: true },
        { since, uncount: started },
      );
      await changed(ref);
    });
    await job.moveToDelayed(Date.now() + database.retryDelayMs(), token);
    return new DelayedError();
  };

  const runAttempt = async (job: Job<JobRefPayload>, token: string | undefined): Promise<unknown> => {
    // The job's data is its kind's payload: BullMQ gives it untyped.
    const handler = handlers[job.name as JobNamesOf<Q>] as
      | ((payload: unknown, deps: Deps) => Promise<JobResult<JobNamesOf<Q>>>)
      | { inOwnCommit: (payload: unknown, deps: Deps) => Promise<StepCommit<JobResult<JobNamesOf<Q>>>> }
      | undefined;
    const ref = { jobId: job.data.jobId, ...(job.data.step !== undefined ? { step: job.data.step } : {}) };
    const attempt = job.attemptsMade + 1;
    const log = logger.child({ ...ref, job: job.name, attempt, requestId: job.data.context?.requestId });
    /** Whether the attempt's start, and so the attempt, has been recorded. */
    let started = false;
    /** A recording that failed: the database's outage, or a real failure of the attempt. */
    const recordingFailed = async (error: unknown): Promise<never> => {
      if (await databaseAway()) throw await putBack(job, token, ref, error, started);
      log.error({ err: error }, 'could not record the job state');
      throw error;
    };
    /** The job's record says there is nothing to run. */
    const notToRun = (start: Exclude<JobStartOutcome, 'started'>): undefined => {
      // Completed already: BullMQ lost the completion (a Redis outage) and offers the job again.
      if (start === 'completed') return undefined;
      // Its row is gone (queueing it "failed" and the gateway withdrew it) or it has failed: no work to do.
      throw new UnrecoverableError(`job ${ref.jobId} is not waiting to run; nothing to do`);
    };

    if (!handler) {
      // A worker deployed out of step with the job contracts: the job fails, and its poller hears why.
      const message = `queue "${options.queue}" has no handler for job "${job.name}"`;
      const failure = { code: 'internal' as const, message, retryable: false };
      const deliveries = await recorder.markFailed(ref, failure).catch(recordingFailed);
      await changed(ref, 'failed', deliveries);
      throw new UnrecoverableError(message);
    }
    // A committing handler's start is recorded with its end, in its own commit.
    if (typeof handler === 'function') {
      const start = await recorder.markActive(ref).catch(recordingFailed);
      if (start !== 'started') return notToRun(start);
      started = true;
      await changed(ref);
    }

    log.info('job started');
    const stopTimer = jobDuration.startTimer({ kind: job.name });
    // A committing handler answers how its commit recorded the attempt; the runtime records the others'.
    let ran: StepCommit<JobResult<JobNamesOf<Q>>> | { start: 'started'; result: JobResult<JobNamesOf<Q>> };
    try {
      ran =
        typeof handler === 'function'
          ? { start: 'started', result: await handler(job.data, deps) }
          : await handler.inOwnCommit(job.data, deps);
    } catch (error) {
      const quotaMs = quotaRetryAfterMs(error, DEFAULT_QUOTA_WAIT_MS);
      if (quotaMs !== undefined && Date.now() - job.timestamp < MAX_QUOTA_WAIT_MS) {
        stopTimer({ outcome: 'quota' });
        const waitMs = jitter(quotaMs * 2);
        log.warn(
          { err: error, waitMs },
          'provider quota out: the queue waits, and the job runs again without counting an attempt',
        );
        const note = { code: 'provider_quota' as const, message: (error as Error).message, retryable: true };
        await recorder.markWaiting(ref, note, { since: new Date(), uncount: started }).catch(recordingFailed);
        await changed(ref);
        await limiter.rateLimit(waitMs);
        workerPausedSeconds.inc({ queue: options.queue, cause: `quota:${providerOf(error)}` }, waitMs / 1000);
        throw new RateLimitError();
      }
      if (await databaseAway()) {
        stopTimer({ outcome: 'outage' });
        throw await putBack(job, token, ref, error, started);
      }
      const failure = describeFailure(error, job.data.context?.requestId);
      const final = !failure.retryable || attempt >= (job.opts.attempts ?? 1);
      stopTimer({ outcome: final ? 'failed' : 'retry' });
      // A committing handler's failure left no record of its start: the attempt is counted with it.
      const count = { countAttempt: !started };
      // Logged before it is recorded: recording needs PostgreSQL, which may be what failed.
      if (final) {
        log.error({ err: error, code: failure.code }, 'job failed');
        const deliveries = await recorder.markFailed(ref, failure, count).catch(recordingFailed);
        await changed(ref, 'failed', deliveries);
      } else {
        log.warn({ err: error, code: failure.code }, 'job attempt failed; it will be retried');
        await recorder.markRetrying(ref, failure, count).catch(recordingFailed);
        await changed(ref);
      }
      if (!failure.retryable && !(error instanceof UnrecoverableError)) {
        throw Object.assign(new UnrecoverableError(failure.message), { cause: error });
      }
      throw error;
    }
    if (ran.start !== 'started') return notToRun(ran.start);
    const completion: JobCompletion =
      'completion' in ran ? ran.completion : await recorder.markCompleted(ref, ran.result).catch(recordingFailed);
    await changed(ref, completion.jobCompleted ? 'completed' : undefined, completion.deliveries);
    stopTimer({ outcome: 'completed' });
    log.info('job completed');
    return ran.result;
  };
  // Each attempt is a span that continues the trace of the request the job came from.
  const run = (job: Job<JobRefPayload>, token?: string): Promise<unknown> =>
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
      () => runAttempt(job, token),
    );
  worker = new Worker(options.queue, run, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    // A job whose worker died twice is still given a third run before it counts as failed.
    maxStalledCount: 2,
    // BullMQ honours the queue-wide pause that a quota sets only for workers that have a limiter; without
    // MAX per minute configured it is one no queue reaches.
    limiter: { max: options.maxPerMinute ?? 1_000_000, duration: 60_000 },
    // Backoff types BullMQ does not know (a webhook delivery's capped exponential one).
    settings: { backoffStrategy },
    // A fetch of the next job that failed (its connection cut by a Redis restart) is tried again after
    // this, not BullMQ's 15 s: a worker is back at work a second after Redis is, and a post re-queued then
    // does not wait out three workers' 15 s each (the fault suite's Redis restart case timed out on it).
    runRetryDelay: FETCH_RETRY_DELAY_MS,
  });
  // Connection trouble and the like: BullMQ reconnects by itself, so it is reported, not fatal.
  worker.on('error', (err) => logger.error({ err, queue: options.queue }, 'worker error'));
  const running = worker;
  return {
    // Waits for the jobs in hand and for any fetch under way (BullMQ's pause without doNotWaitActive): a
    // fetch already in flight could otherwise still hand the worker a job after pause() has returned.
    pause: () => running.pause(),
    resume: () => running.resume(),
    close: async (force) => {
      database.stop();
      await running.close(force);
      await limiter.close();
    },
  };
}

/** Logs a Redis outage once when it starts and once, with its length, when it ends. */
function watchRedis(connection: Redis, queue: string, logger: Logger): void {
  let since: number | undefined;
  // 'reconnecting', not 'close': a connection closed on purpose (shutdown) does not reconnect.
  connection.on('reconnecting', () => {
    if (since !== undefined) return;
    since = Date.now();
    logger.error({ dependency: 'redis', queue }, 'redis unreachable: jobs wait until it answers');
  });
  connection.on('ready', () => {
    if (since === undefined) return;
    const seconds = (Date.now() - since) / 1000;
    since = undefined;
    workerPausedSeconds.inc({ queue, cause: 'redis' }, seconds);
    logger.warn(
      { dependency: 'redis', queue, outageSeconds: Math.round(seconds * 10) / 10 },
      `redis reachable again after ${seconds.toFixed(1)} s`,
    );
  });
}

function providerOf(error: unknown): string {
  const provider = (error as { provider?: unknown }).provider;
  return typeof provider === 'string' ? provider : 'unknown';
}

/** A running worker: it stops taking jobs on pause (what runs finishes) and on close. */
export interface QueueWorker {
  /** Resolves once no job runs and none can be fetched until `resume`. */
  pause(): Promise<void>;
  resume(): void;
  /** Waits for running jobs unless `force`. */
  close(force?: boolean): Promise<void>;
}
