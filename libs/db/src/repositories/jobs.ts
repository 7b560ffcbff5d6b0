import { randomUUID } from 'node:crypto';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Db } from '../client.ts';
import type { JobErrorRecord, JobRow, JobStepRow } from '../schema.ts';

export interface JobInput {
  name: string;
  contentType: string;
  sha256: string;
  data: Buffer;
}

/** Which job, and which of its steps when it has several, an attempt belongs to. */
export interface JobRef {
  jobId: string;
  step?: number;
}

export interface NewJobStep {
  step: number;
  kind: string;
  label: string;
}

/** A step as a poll shows it. */
export type JobStepView = Pick<JobStepRow, 'step' | 'kind' | 'label' | 'state' | 'attempts' | 'error'>;

/** The answer to the request that created a job, kept under its Idempotency-Key in the same commit. */
export interface IdempotentAnswer {
  userId: string;
  key: string;
  status: number;
  response: unknown;
}

/**
 * PostgreSQL, not Redis, is the record of what was accepted and how it ended: a job row is
 * written before the client hears 202 and follows the job through every attempt.
 */
export class JobsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async create(
    job: { id?: string; kind: string; ownerId: string; payload: unknown },
    inputs: JobInput[] = [],
    steps: NewJobStep[] = [],
    answer?: IdempotentAnswer,
  ): Promise<string> {
    const row = {
      id: job.id ?? randomUUID(),
      kind: job.kind,
      ownerId: job.ownerId,
      payload: JSON.stringify(job.payload),
    };
    if (inputs.length === 0 && steps.length === 0) {
      // The common case (a generation without a reference image) in one statement, one round trip.
      const insert = this.db.insertInto('jobs').values(row);
      if (!answer) await insert.execute();
      else
        await this.db
          .with('job', () => insert)
          .updateTable('idempotency_keys')
          .set(answered(answer))
          .where('userId', '=', answer.userId)
          .where('key', '=', answer.key)
          .execute();
      return row.id;
    }
    return this.db.transaction().execute(async (trx) => {
      const { id } = await trx.insertInto('jobs').values(row).returning('id').executeTakeFirstOrThrow();
      if (inputs.length > 0) {
        await trx
          .insertInto('job_inputs')
          .values(inputs.map((input) => ({ jobId: id, ...input })))
          .execute();
      }
      if (steps.length > 0) {
        await trx
          .insertInto('job_steps')
          .values(steps.map((step) => ({ jobId: id, ...step })))
          .execute();
      }
      if (answer) {
        await trx
          .updateTable('idempotency_keys')
          .set(answered(answer))
          .where('userId', '=', answer.userId)
          .where('key', '=', answer.key)
          .execute();
      }
      return id;
    });
  }

  /**
   * Undoes `create` when the job could not be queued: the client is told so and nothing stays
   * half-written, the answer kept under its Idempotency-Key included (a retry with it does the work).
   */
  async delete(id: string, answered?: Pick<IdempotentAnswer, 'userId' | 'key'>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('jobs').where('id', '=', id).execute();
      if (answered) {
        await trx
          .deleteFrom('idempotency_keys')
          .where('userId', '=', answered.userId)
          .where('key', '=', answered.key)
          .execute();
      }
    });
  }

  async findById(id: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Accepted jobs not yet ended and not touched since `before`: candidates for the reconciler. */
  async findUnfinishedBefore(before: Date, limit: number): Promise<JobRow[]> {
    return this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', 'in', ['queued', 'active'])
      .where('updatedAt', '<', before)
      .orderBy('createdAt')
      .limit(limit)
      .execute();
  }

  /** Back to queued for another run: the job, and every step that has not completed. */
  async resetForRetry(id: string): Promise<void> {
    const now = new Date();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('jobs')
        .set({ status: 'queued', error: null, finishedAt: null, updatedAt: now })
        .where('id', '=', id)
        .execute();
      await trx
        .updateTable('job_steps')
        .set({ state: 'queued', error: null, updatedAt: now })
        .where('jobId', '=', id)
        .where('state', '!=', 'completed')
        .execute();
    });
  }

  /** A user's job with its steps in order, in one query: every poll reads it. */
  async findForOwner(id: string, ownerId: string): Promise<(JobRow & { steps: JobStepView[] }) | undefined> {
    return this.db
      .selectFrom('jobs')
      .selectAll('jobs')
      .select((eb) =>
        jsonArrayFrom(
          eb
            .selectFrom('job_steps')
            .select(['step', 'kind', 'label', 'state', 'attempts', 'error'])
            .whereRef('job_steps.jobId', '=', 'jobs.id')
            .orderBy('step'),
        ).as('steps'),
      )
      .where('jobs.id', '=', id)
      .where('jobs.ownerId', '=', ownerId)
      .executeTakeFirst();
  }

  /** A user's jobs of a kind that are accepted but not yet ended. */
  async countUnfinished(ownerId: string, kind: string): Promise<number> {
    const { count } = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('ownerId', '=', ownerId)
      .where('kind', '=', kind)
      .where('status', 'in', ['queued', 'active'])
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  async findInput(jobId: string, name: string): Promise<JobInput | undefined> {
    return this.db
      .selectFrom('job_inputs')
      .select(['name', 'contentType', 'sha256', 'data'])
      .where('jobId', '=', jobId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Results of the completed steps, by step number. */
  async stepResults(jobId: string): Promise<Map<number, unknown>> {
    const rows = await this.db
      .selectFrom('job_steps')
      .select(['step', 'result'])
      .where('jobId', '=', jobId)
      .where('state', '=', 'completed')
      .execute();
    return new Map(rows.map((row) => [row.step, row.result]));
  }

  /** False when the job has no row (it was withdrawn when queueing it failed) or has already ended. */
  async markActive(ref: JobRef): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('jobs')
        .set((eb) => ({ status: 'active', attempts: eb('attempts', '+', 1), updatedAt: new Date() }))
        .where('id', '=', ref.jobId)
        .where('status', 'in', ['queued', 'active'])
        .executeTakeFirst();
      if (ref.step !== undefined) {
        await trx
          .updateTable('job_steps')
          .set((eb) => ({ state: 'active', attempts: eb('attempts', '+', 1), updatedAt: new Date() }))
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .execute();
      }
      return updated.numUpdatedRows > 0n;
    });
  }

  /** A job with steps completes, with its last step's result, once every step has. */
  async markCompleted(ref: JobRef, result: unknown): Promise<void> {
    const now = new Date();
    const json = JSON.stringify(result);
    await this.db.transaction().execute(async (trx) => {
      if (ref.step !== undefined) {
        await trx
          .updateTable('job_steps')
          .set({ state: 'completed', result: json, error: null, updatedAt: now })
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .execute();
        const unfinished = await trx
          .selectFrom('job_steps')
          .select('step')
          .where('jobId', '=', ref.jobId)
          .where('state', '!=', 'completed')
          .executeTakeFirst();
        if (unfinished) return;
      }
      await trx
        .updateTable('jobs')
        .set({ status: 'completed', result: json, error: null, updatedAt: now, finishedAt: now })
        .where('id', '=', ref.jobId)
        .execute();
    });
  }

  /** A failed attempt that will be retried: back to queued, with the reason for the poller. */
  async markRetrying(ref: JobRef, error: JobErrorRecord): Promise<void> {
    const json = JSON.stringify(error);
    if (ref.step !== undefined) {
      await this.db
        .updateTable('job_steps')
        .set({ state: 'queued', error: json, updatedAt: new Date() })
        .where('jobId', '=', ref.jobId)
        .where('step', '=', ref.step)
        .execute();
      return;
    }
    await this.db
      .updateTable('jobs')
      .set({ status: 'queued', error: json, updatedAt: new Date() })
      .where('id', '=', ref.jobId)
      .execute();
  }

  /** A step's final failure fails its whole job, with a message that names the step. */
  async markFailed(ref: JobRef, error: JobErrorRecord): Promise<void> {
    const now = new Date();
    await this.db.transaction().execute(async (trx) => {
      let jobError = error;
      if (ref.step !== undefined) {
        const step = await trx
          .updateTable('job_steps')
          .set({ state: 'failed', error: JSON.stringify(error), updatedAt: now })
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .returning('label')
          .executeTakeFirst();
        jobError = { ...error, message: `${step?.label ?? `step ${ref.step}`}: ${error.message}` };
      }
      await trx
        .updateTable('jobs')
        .set({ status: 'failed', error: JSON.stringify(jobError), updatedAt: now, finishedAt: now })
        .where('id', '=', ref.jobId)
        .execute();
    });
  }
}

function answered(answer: IdempotentAnswer) {
  return { status: answer.status, response: JSON.stringify(answer.response) };
}
