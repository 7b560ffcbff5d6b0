import { randomUUID } from 'node:crypto';
import type { JobInput, JobsRepository, NewJobStep } from '@mediaflow/db';
import type { PermanentFolder } from '@mediaflow/providers';
import {
  enqueuePlan,
  type JobContext,
  type JobName,
  type JobPayload,
  type JobPlan,
  type JobProducer,
  type JobRequest,
} from '@mediaflow/queue';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';
import type { ClaimedKey } from './idempotency.ts';
import type { MediaSource } from './media-intake.ts';
import { jobContext } from './observability.ts';

/** Queueing waits this long for Redis before the client hears 503. */
const ENQUEUE_TIMEOUT_MS = 5_000;

/** What the client hears: 202 with these. */
export interface Accepted {
  jobId: string;
  status: 'queued';
  statusUrl: string;
}

/** One item of a media submission: one step, promoting it into `folder` under the name `publicId` gives. */
export interface MediaToPromote {
  item: MediaSource;
  folder: PermanentFolder;
  publicId: (jobId: string, step: number) => string;
  /** What the step shows a poller, e.g. `media[0] photo.jpg`. */
  label: string;
}

/** Where a submission comes from: the request's context for the workers, and its Idempotency-Key. */
export interface Origin {
  context: JobContext;
  idempotency: ClaimedKey | undefined;
}

export function originOf(request: FastifyRequest): Origin {
  return { context: jobContext(request), idempotency: request.idempotency };
}

/**
 * Accepts work: the job row — with its whole plan, its input files and its steps — in PostgreSQL first,
 * then the queue entries. If the queue cannot take them, the row goes too and the client hears 503, so
 * nothing is left half-written. The plan in the row lets the work be queued again if Redis loses it.
 */
export class Submissions {
  private readonly jobs: JobsRepository;
  private readonly producer: JobProducer;
  private readonly logger: FastifyBaseLogger;

  constructor(deps: { jobs: JobsRepository; producer: JobProducer; logger: FastifyBaseLogger }) {
    this.jobs = deps.jobs;
    this.producer = deps.producer;
    this.logger = deps.logger;
  }

  /** One job. */
  submit<N extends JobName>(
    name: N,
    ownerId: string,
    payload: Omit<JobPayload<N>, 'jobId'>,
    inputs: JobInput[],
    origin: Origin,
  ): Promise<Accepted> {
    const jobId = randomUUID();
    const last = { name, payload: { ...payload, jobId } } as JobRequest;
    const plan = { last, context: origin.context };
    return this.accept({ jobId, kind: name, ownerId, plan, inputs, steps: [] }, origin.idempotency);
  }

  /**
   * A media submission (a post, a blog): a step promoting each item into its permanent folder, then
   * `persist`, which runs once every promotion has completed and writes the record from their results.
   */
  submitMedia(input: {
    kind: string;
    ownerId: string;
    origin: Origin;
    summary: unknown;
    media: MediaToPromote[];
    persist: { label: string; request: (jobId: string, step: number) => JobRequest };
  }): Promise<Accepted> {
    const jobId = randomUUID();
    const persistStep = input.media.length;
    const last = input.persist.request(jobId, persistStep);
    const first = input.media.map(
      ({ item, folder, publicId }, step): JobRequest => ({
        name: 'promote-media',
        payload: {
          jobId,
          step,
          source: item.source,
          folder,
          publicId: publicId(jobId, step),
          copy: item.copy,
          ...(item.assetId ? { assetId: item.assetId } : {}),
        },
      }),
    );
    const steps: NewJobStep[] = [
      ...input.media.map(({ label }, step) => ({ step, kind: 'promote-media', label })),
      { step: persistStep, kind: last.name, label: input.persist.label },
    ];
    const plan: JobPlan = { first, last, summary: input.summary, context: input.origin.context };
    return this.accept(
      { jobId, kind: input.kind, ownerId: input.ownerId, plan, inputs: [], steps },
      input.origin.idempotency,
    );
  }

  private async accept(
    job: {
      jobId: string;
      kind: string;
      ownerId: string;
      plan: JobPlan;
      inputs: JobInput[];
      steps: NewJobStep[];
    },
    idempotency: ClaimedKey | undefined,
  ): Promise<Accepted> {
    const accepted: Accepted = { jobId: job.jobId, status: 'queued', statusUrl: `/api/jobs/${job.jobId}` };
    // The answer goes under the Idempotency-Key in the job's own commit: one write to wait for, not two.
    const answer = idempotency && { userId: idempotency.userId, key: idempotency.key, status: 202, response: accepted };
    await this.jobs.create(
      { id: job.jobId, kind: job.kind, ownerId: job.ownerId, payload: job.plan },
      job.inputs,
      job.steps,
      answer,
    );
    try {
      await withTimeout(enqueuePlan(this.producer, job.plan), ENQUEUE_TIMEOUT_MS);
    } catch (error) {
      this.logger.error({ err: error, jobId: job.jobId }, 'could not queue an accepted job; rolling it back');
      await this.jobs.delete(job.jobId, answer);
      throw new HttpError(
        503,
        'service_unavailable',
        'the job queue is unavailable; nothing was saved, try again shortly',
      );
    }
    if (idempotency) idempotency.answered = true;
    return accepted;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the queue within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
