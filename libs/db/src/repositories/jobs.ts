import type { JobErrorRecord, JobKind, JobName, JobPlan, JobRef, StepResult, StoredMedia } from '@mediaflow/domain';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Db } from '../client.ts';
import type { JobRow, JobStepRow } from '../schema.ts';
import { type IdempotentAnswer, recordAnswer } from './idempotency-keys.ts';

export interface JobInput {
  name: string;
  contentType: string;
  sha256: string;
  data: Buffer;
}

export interface NewJobStep {
  step: number;
  kind: JobName;
  label: string;
}

/** An accepted job: its plan, the files it needs and the steps of its chain, written in one commit. */
export interface NewJobRecord {
  id: string;
  kind: JobKind;
  ownerId: string;
  plan: JobPlan;
  inputs?: JobInput[];
  steps?: NewJobStep[];
}

/** A step as a poll shows it. */
export type JobStepView = Pick<JobStepRow, 'step' | 'kind' | 'label' | 'state' | 'attempts' | 'error'>;

/**
 * PostgreSQL, not Redis, is the record of what was accepted and how it ended: a job row is
 * written before the client hears 202 and follows the job through every attempt.
 */
export class JobsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Writes an accepted job; with `answer`, the request's answer goes under its Idempotency-Key in the
   * same commit (one write to wait for, not two).
   */
  async create(job: NewJobRecord, answer?: IdempotentAnswer): Promise<void> {
    const row = { id: job.id, kind: job.kind, ownerId: job.ownerId, payload: JSON.stringify(job.plan) };
    const inputs = job.inputs ?? [];
    const steps = job.steps ?? [];
    if (inputs.length === 0 && steps.length === 0) {
      // The common case (a generation without a reference image) in one statement, one round trip.
      const insert = answer ? this.db.with('answer', (db) => recordAnswer(db, answer)) : this.db;
      await insert.insertInto('jobs').values(row).execute();
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('jobs').values(row).execute();
      if (inputs.length > 0) {
        await trx
          .insertInto('job_inputs')
          .values(inputs.map((input) => ({ jobId: job.id, ...input })))
          .execute();
      }
      if (steps.length > 0) {
        await trx
          .insertInto('job_steps')
          .values(steps.map((step) => ({ jobId: job.id, ...step })))
          .execute();
      }
      if (answer) await recordAnswer(trx, answer).execute();
    });
  }

  /** Undoes `create` when the job could not be queued: the client is told so and nothing stays half-written. */
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('jobs').where('id', '=', id).execute();
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
            .select(['step', 'job_steps.kind', 'label', 'state', 'attempts', 'error'])
            .whereRef('job_steps.jobId', '=', 'jobs.id')
            .orderBy('step'),
        ).as('steps'),
      )
      .where('jobs.id', '=', id)
      .where('jobs.ownerId', '=', ownerId)
      .executeTakeFirst();
  }

  /** A user's jobs of a kind that are accepted but not yet ended. */
  async countUnfinished(ownerId: string, kind: JobKind): Promise<number> {
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

  /** What the completed promote-media steps of a submission stored, by step number. */
  async promotedMedia(jobId: string): Promise<Map<number, StoredMedia>> {
    const rows = await this.db
      .selectFrom('job_steps')
      .select(['step', 'result'])
      .where('jobId', '=', jobId)
      .where('kind', '=', 'promote-media')
      .where('state', '=', 'completed')
      .execute();
    return new Map(rows.flatMap(({ step, result }) => (isStoredMedia(result) ? [[step, result] as const] : [])));
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
      const runnable = updated.numUpdatedRows > 0n;
      // A step of a job that has already ended (a sibling failed it) stays as it was.
      if (runnable && ref.step !== undefined) {
        await trx
          .updateTable('job_steps')
          .set((eb) => ({ state: 'active', attempts: eb('attempts', '+', 1), updatedAt: new Date() }))
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .execute();
      }
      return runnable;
    });
  }

  /** A job with steps completes, with its last step's result, once every step has. */
  async markCompleted(ref: JobRef, result: StepResult): Promise<void> {
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

/** A promote-media step's result is the stored file. */
function isStoredMedia(result: StepResult | null): result is StoredMedia {
  return result !== null && 'providerId' in result;
}
