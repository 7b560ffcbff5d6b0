import type { Db } from '../client.ts';
import type { JobErrorRecord, JobRow } from '../schema.ts';

export interface JobInput {
  name: string;
  contentType: string;
  sha256: string;
  data: Buffer;
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

  async create(job: { kind: string; ownerId: string; payload: unknown }, inputs: JobInput[] = []): Promise<string> {
    return this.db.transaction().execute(async (trx) => {
      const { id } = await trx
        .insertInto('jobs')
        .values({ kind: job.kind, ownerId: job.ownerId, payload: JSON.stringify(job.payload) })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (inputs.length > 0) {
        await trx
          .insertInto('job_inputs')
          .values(inputs.map((input) => ({ jobId: id, ...input })))
          .execute();
      }
      return id;
    });
  }

  /** Undoes `create` when the job could not be queued: the client is told so and nothing stays half-written. */
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('jobs').where('id', '=', id).execute();
  }

  async findForOwner(id: string, ownerId: string): Promise<JobRow | undefined> {
    return this.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .where('ownerId', '=', ownerId)
      .executeTakeFirst();
  }

  async findInput(jobId: string, name: string): Promise<JobInput | undefined> {
    return this.db
      .selectFrom('job_inputs')
      .select(['name', 'contentType', 'sha256', 'data'])
      .where('jobId', '=', jobId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async markActive(id: string): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set((eb) => ({ status: 'active', attempts: eb('attempts', '+', 1), updatedAt: new Date() }))
      .where('id', '=', id)
      .execute();
  }

  async markCompleted(id: string, result: unknown): Promise<void> {
    const now = new Date();
    await this.db
      .updateTable('jobs')
      .set({ status: 'completed', result: JSON.stringify(result), error: null, updatedAt: now, finishedAt: now })
      .where('id', '=', id)
      .execute();
  }

  /** A failed attempt that will be retried: back to queued, with the reason for the poller. */
  async markRetrying(id: string, error: JobErrorRecord): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ status: 'queued', error: JSON.stringify(error), updatedAt: new Date() })
      .where('id', '=', id)
      .execute();
  }

  async markFailed(id: string, error: JobErrorRecord): Promise<void> {
    const now = new Date();
    await this.db
      .updateTable('jobs')
      .set({ status: 'failed', error: JSON.stringify(error), updatedAt: now, finishedAt: now })
      .where('id', '=', id)
      .execute();
  }
}
