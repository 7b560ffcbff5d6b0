import type { JobInput, JobsRepository, NewJobStep } from '@mediaflow/db';
import type { JobName, JobPayload, JobProducer, JobRequest } from '@mediaflow/queue';
import type { FastifyBaseLogger } from 'fastify';
import { HttpError } from './errors.ts';

/** What the client hears: 202 with these. */
export interface Accepted {
  jobId: string;
  status: 'queued';
  statusUrl: string;
}

/**
 * Accepts a job: its row (and input files) in PostgreSQL first, then the queue entry. If the queue
 * cannot take it, the row goes too and the client hears 503, so nothing is left half-written.
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

  async submit<N extends JobName>(
    name: N,
    ownerId: string,
    payload: Omit<JobPayload<N>, 'jobId'>,
    inputs: JobInput[] = [],
  ): Promise<Accepted> {
    const jobId = await this.jobs.create({ kind: name, ownerId, payload }, inputs);
    try {
      await this.producer.add({ name, payload: { ...payload, jobId } } as JobRequest);
    } catch (error) {
      this.logger.error({ err: error, jobId }, 'could not queue an accepted job; rolling it back');
      await this.jobs.delete(jobId);
      throw new HttpError(
        503,
        'service_unavailable',
        'the job queue is unavailable; nothing was saved, try again shortly',
      );
    }
    return { jobId, status: 'queued', statusUrl: `/api/jobs/${jobId}` };
  }

  /**
   * Accepts a chain (a submission): the job row with one step row per job, then a BullMQ flow in which
   * `last` waits for every one of `first`. `build` makes the jobs once the job id exists.
   */
  async submitChain(input: {
    kind: string;
    ownerId: string;
    summary: unknown;
    steps: NewJobStep[];
    build: (jobId: string) => { first: JobRequest[]; last: JobRequest };
  }): Promise<Accepted> {
    const jobId = await this.jobs.create(
      { kind: input.kind, ownerId: input.ownerId, payload: input.summary },
      [],
      input.steps,
    );
    const { first, last } = input.build(jobId);
    try {
      await this.producer.addChain(first, last);
    } catch (error) {
      this.logger.error({ err: error, jobId }, 'could not queue an accepted submission; rolling it back');
      await this.jobs.delete(jobId);
      throw new HttpError(
        503,
        'service_unavailable',
        'the job queue is unavailable; nothing was saved, try again shortly',
      );
    }
    return { jobId, status: 'queued', statusUrl: `/api/jobs/${jobId}` };
  }
}
