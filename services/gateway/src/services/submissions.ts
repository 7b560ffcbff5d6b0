import { randomUUID } from 'node:crypto';
import type { JobInput, JobsRepository, NewJobStep } from '@mediaflow/db';
import type { JobContext, JobKind, JobPlan, JobRequest, PermanentFolder } from '@mediaflow/domain';
import type { QueueRepository } from '@mediaflow/queue';
import { withTimeout } from '@mediaflow/queue';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { ServiceLog } from './log.ts';
import type { MediaSource } from './media-intake.ts';

/** Queueing waits this long for Redis before the client hears 503. */
const ENQUEUE_TIMEOUT_MS = 5_000;

/** What the client hears: 202 with these. */
export interface Accepted {
  jobId: string;
  status: 'queued';
  statusUrl: string;
  /** The job's event stream, with a short-lived token for it (never stored: made for each answer). */
  eventsUrl: string;
}

/** A job to accept, as a use case describes it once it knows the job's id. */
export interface NewSubmission {
  kind: JobKind;
  ownerId: string;
  plan: JobPlan;
  inputs?: JobInput[];
  steps?: NewJobStep[];
  /** At most this many unfinished jobs of its kind per owner (generations in flight). */
  inFlightCap?: number;
}

/** One item of a media submission: one step, promoting it into `folder` under the name `publicId` gives. */
export interface MediaToPromote {
  item: MediaSource;
  folder: PermanentFolder;
  publicId: (jobId: string) => string;
  /** What the step shows a poller, e.g. `media[0] photo.jpg`. */
  label: string;
}

/** A post or a blog: a step promoting each item into its permanent folder, then `persist`. */
export interface MediaSubmission {
  kind: Extract<JobKind, 'submit-post' | 'submit-blog'>;
  ownerId: string;
  context: JobContext;
  summary: Record<string, unknown>;
  /** Large input kept in the job row only, never queued (JobPlan.record). */
  record?: JobPlan['record'];
  media: MediaToPromote[];
  /** Runs once every promotion has completed, and writes the record from their results. */
  persist: { label: string; request: (jobId: string, step: number) => JobRequest };
}

export interface SubmissionsDeps {
  jobs: Pick<JobsRepository, 'create' | 'delete'>;
  queues: Pick<QueueRepository, 'enqueue'>;
  log: ServiceLog;
  /** The job's event stream with a token for its owner (EventsTokens.eventsUrl). */
  eventsUrl: (ownerId: string, jobId: string) => Promise<string>;
}

/**
 * Accepts work: the job row — with its whole plan, its input files and its steps — in PostgreSQL first,
 * then the queue entries. If the queue cannot take them, the row goes too and the client hears 503, so
 * nothing is left half-written. The plan in the row lets the work be queued again if Redis loses it.
 */
export class Submissions {
  private readonly jobs: SubmissionsDeps['jobs'];
  private readonly queues: SubmissionsDeps['queues'];
  private readonly log: ServiceLog;
  private readonly eventsUrl: SubmissionsDeps['eventsUrl'];

  constructor(deps: SubmissionsDeps) {
    this.jobs = deps.jobs;
    this.queues = deps.queues;
    this.log = deps.log;
    this.eventsUrl = deps.eventsUrl;
  }

  /**
   * Accepts the job `build` describes for a new job id, answering 202. The answer goes under the
   * request's Idempotency-Key in the job's own commit: one write to wait for, not two.
   */
  async accept(build: (jobId: string) => NewSubmission, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    const jobId = randomUUID();
    const job = build(jobId);
    const stored: Omit<Accepted, 'eventsUrl'> = { jobId, status: 'queued', statusUrl: `/api/jobs/${jobId}` };
    const accepted: Accepted = { ...stored, eventsUrl: await this.eventsUrl(job.ownerId, jobId) };
    // Stored without its eventsUrl: a token is kept nowhere, and a replay gets a fresh one (`replayed`).
    const answer = scope.answer(202, stored);
    await this.jobs.create({ id: jobId, ...job }, answer);
    try {
      await withTimeout(this.queues.enqueue(job.plan), ENQUEUE_TIMEOUT_MS, 'the queue');
    } catch (error) {
      this.log.error({ err: error, jobId }, 'could not queue an accepted job; rolling it back');
      await this.jobs.delete(jobId, answer);
      throw new HttpError(
        503,
        'service_unavailable',
        'the job queue is unavailable; nothing was saved, try again shortly',
      );
    }
    return { status: 202, body: accepted };
  }

  /**
   * A stored answer, replayed for a repeated Idempotency-Key: an accepted job's 202 gets its eventsUrl
   * made again, with a token valid from now (the stored answer has none); any other answer is as stored.
   */
  async replayed(userId: string, answer: Answer<unknown>): Promise<Answer<unknown>> {
    const body = answer.body as Partial<Accepted> | null;
    const jobId = body?.jobId;
    if (answer.status !== 202 || typeof jobId !== 'string' || body?.statusUrl !== `/api/jobs/${jobId}`) return answer;
    return { status: answer.status, body: { ...body, eventsUrl: await this.eventsUrl(userId, jobId) } };
  }

  /**
   * A media submission (a post, a blog): a step promoting each item into its permanent folder, then
   * `persist`, which runs once every promotion has completed and writes the record from their results.
   */
  acceptMedia(submission: MediaSubmission, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    return this.accept((jobId) => {
      const persistStep = submission.media.length;
      const last = submission.persist.request(jobId, persistStep);
      const first = submission.media.map(
        ({ item, folder, publicId }, step): JobRequest => ({
          name: 'promote-media',
          payload: {
            jobId,
            step,
            source: item.source,
            folder,
            publicId: publicId(jobId),
            copy: item.copy,
            ...(item.assetId ? { assetId: item.assetId } : {}),
          },
        }),
      );
      const steps: NewJobStep[] = [
        ...submission.media.map(({ label }, step) => ({ step, kind: 'promote-media' as const, label })),
        { step: persistStep, kind: last.name, label: submission.persist.label },
      ];
      return {
        kind: submission.kind,
        ownerId: submission.ownerId,
        plan: { first, last, summary: submission.summary, record: submission.record, context: submission.context },
        steps,
      };
    }, scope);
  }
}
