import type {
  AttemptCount,
  JobCompletion,
  JobErrorRecord,
  JobKind,
  JobName,
  JobPlan,
  JobRef,
  JobRequest,
  JobStartOutcome,
  StepCommit,
  StepResult,
  StoredMedia,
} from '@mediaflow/domain';
import { type QueryCreator, sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import pg from 'pg';
import { type Db, pingDatabase, prepared } from '../client.ts';
import type { Database, JobRow, JobStepRow } from '../schema.ts';
import {
  answerInsert,
  answerUpdate,
  answerValues,
  IdempotencyKeyTaken,
  type IdempotentAnswer,
  isKeyTaken,
  recordAnswer,
} from './idempotency-keys.ts';
import { insertDeliveries } from './webhooks.ts';

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
  /**
   * The most jobs of this kind its owner may have queued or active at once. With it, `create` writes the
   * job only if that leaves the owner within the cap, and otherwise throws `InFlightCapReached`.
   */
  inFlightCap?: number;
}

/** `create` refused a job: its owner already has `cap` unfinished jobs of its kind. Nothing was written. */
export class InFlightCapReached extends Error {
  readonly ownerId: string;
  readonly kind: JobKind;
  readonly cap: number;
  constructor(ownerId: string, kind: JobKind, cap: number) {
    super(`${ownerId} already has ${cap} unfinished ${kind} jobs`);
    this.name = 'InFlightCapReached';
    this.ownerId = ownerId;
    this.kind = kind;
    this.cap = cap;
  }
}

/** The unique partial index that lets no two unfinished jobs of an owner and kind hold one slot (migration 0006). */
const SLOT_INDEX = 'jobs_in_flight_slot_idx';

/** A failed submission whose staged uploads retention has yet to delete: its chain, and which steps completed. */
export interface FailedSubmission {
  id: string;
  first: JobRequest[];
  completedSteps: number[];
}

/** A step as a poll shows it. */
export type JobStepView = Pick<JobStepRow, 'step' | 'kind' | 'label' | 'state' | 'attempts' | 'error'>;

/** What a poll reads of a job: all but its plan (which holds a blog's whole content), named column by column. */
const STATUS_COLUMNS = [
  'jobs.id',
  'jobs.kind',
  'jobs.ownerId',
  'jobs.status',
  'jobs.attempts',
  'jobs.result',
  'jobs.error',
  'jobs.createdAt',
  'jobs.updatedAt',
  'jobs.finishedAt',
] as const;

/** A job as its owner's poll reads it (findForOwner). */
export type JobStatusRecord = Omit<JobRow, 'payload'> & { steps: JobStepView[] };

/**
 * PostgreSQL, not Redis, is the record of what was accepted and how it ended: a job row is
 * written before the client hears 202 and follows the job through every attempt.
 */
export class JobsRepository {
  /** What `create` throws for a job over its `inFlightCap`; here too so that callers need only the repository. */

  private readonly db: Db;
  private readonly singleInserts = new Map<string, (values: SingleInsertValues) => Promise<unknown[]>>();
  /**
   * The poll's query, a prepared statement: it is the most frequent call of all. Compiled on first use, so
   * that a repository bound to one transaction (the persistence step's, one per submission) never builds it.
   */
  private statusForOwner: ((values: { id: string; ownerId: string }) => Promise<JobStatusRecord[]>) | undefined;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Writes an accepted job; with `answer`, the request's answer goes under its Idempotency-Key in the
   * same commit (one write to wait for, not two).
   *
   * With `inFlightCap`, the check and the write are one: the job takes the lowest of its owner's slots
   * 0..cap-1 that no unfinished job of its kind holds, and with none free nothing is written (not the
   * answer either) and `InFlightCapReached` is thrown. Requests racing for one slot are kept apart by a
   * unique index: the loser tries again and sees the slot taken. Each such retry means another job
   * took a slot, so after cap + 1 of them the cap counts as reached.
   */
  async create(job: NewJobRecord, answer?: IdempotentAnswer): Promise<void> {
    const cap = job.inFlightCap;
    if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0 && cap <= 32_768)) {
      throw new RangeError(`inFlightCap must be an integer from 0 to 32768, not ${cap}`);
    }
    const tries = cap === undefined ? 1 : cap + 1;
    for (let attempt = 1; attempt <= tries; attempt++) {
      try {
        if (await this.write(job, answer)) return;
        break;
      } catch (error) {
        if (answer?.requestHash !== undefined && isKeyTaken(error)) {
          throw new IdempotencyKeyTaken(answer.userId, answer.key);
        }
        if (cap === undefined || !isSlotTaken(error)) throw error;
      }
    }
    throw new InFlightCapReached(job.ownerId, job.kind, cap ?? 0);
  }

  /**
   * The one statement that writes a job without inputs or steps (and its answer), made once for each of
   * its six shapes and prepared: PostgreSQL planned it anew on every generation otherwise, which cost
   * more than running it (pgbench: 2.3× the statements a second prepared).
   */
  private singleInsert(capped: boolean, answer: AnswerWrite) {
    const name = `job_insert_${capped ? 'capped' : 'uncapped'}_${answer}`;
    let insert = this.singleInserts.get(name);
    if (!insert) {
      insert = prepared(this.db, name, SINGLE_INSERT_PARAMS, (db, param) => {
        const job = db.with('job', (db) => insertJob(db, param, capped ? param.cap : undefined));
        const written = sql<boolean>`exists (select 1 from job)`;
        if (answer === 'none') return job.selectFrom('job').select('id');
        return job
          .with('answer', (db) =>
            answer === 'claim' ? answerInsert(db, param, written) : answerUpdate(db, param).where(written),
          )
          .selectFrom('job')
          .select('id');
      });
      this.singleInserts.set(name, insert);
    }
    return insert;
  }

  /** One try at `create`: false when the job's cap left no free slot (and nothing was written). */
  private async write(job: NewJobRecord, answer: IdempotentAnswer | undefined): Promise<boolean> {
    const inputs = job.inputs ?? [];
    const steps = job.steps ?? [];
    if (inputs.length === 0 && steps.length === 0) {
      // The common case (a generation without a reference image) in one prepared statement, one round
      // trip. The answer is written only if the job is: a job refused for its cap leaves its key unanswered.
      const insert = this.singleInsert(job.inFlightCap !== undefined, answerWrite(answer));
      const values = { ...jobValues(job), ...(answer ? answerValues(answer) : ANSWER_UNUSED) };
      return (await insert(values)).length > 0;
    }
    return this.db.transaction().execute(async (trx) => {
      // The job row first: refused for its cap, the transaction writes nothing else.
      if (!(await insertJob(trx, jobValues(job), job.inFlightCap).executeTakeFirst())) return false;
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
      if (answer?.requestHash !== undefined) {
        await answerInsert(trx, { ...answerValues(answer), requestHash: answer.requestHash }).execute();
      } else if (answer) {
        await recordAnswer(trx, answer).execute();
      }
      return true;
    });
  }

  /**
   * Undoes `create` when the job could not be queued: the client is told so and nothing stays
   * half-written, nor the answer written with the job (its key is free for a retry).
   */
  async delete(id: string, answer?: Pick<IdempotentAnswer, 'userId' | 'key'>): Promise<void> {
    if (!answer) {
      await this.db.deleteFrom('jobs').where('id', '=', id).execute();
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('jobs').where('id', '=', id).execute();
      await trx
        .deleteFrom('idempotency_keys')
        .where('userId', '=', answer.userId)
        .where('key', '=', answer.key)
        .execute();
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
        .set({
          status: 'queued',
          error: null,
          finishedAt: null,
          updatedAt: now,
          // A job that had ended gave up its in-flight slot, which another job may hold by now: run again
          // (by an admin or the reconciler), it holds none rather than collide with that job.
          inFlightSlot: sql<number | null>`case when status in ('queued', 'active') then "inFlightSlot" end`,
        })
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
  async findForOwner(id: string, ownerId: string): Promise<JobStatusRecord | undefined> {
    this.statusForOwner ??= pollStatement(this.db);
    const [job] = await this.statusForOwner({ id, ownerId });
    return job;
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

  /** A blog submission's content, from its plan (`record.content`): undefined without the job or the content. */
  async blogContent(jobId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('jobs')
      // Only the text leaves PostgreSQL, not the whole plan.
      .select(sql<string | null>`payload #>> '{record,content}'`.as('content'))
      .where('id', '=', jobId)
      .executeTakeFirst();
    return row?.content ?? undefined;
  }

  /**
   * Records an attempt's start: `started` (the job, and the step, active with one more attempt);
   * `completed` when the job has completed already; `ended` when there is nothing to run (no row: queueing
   * it failed and the gateway withdrew it; or it failed). A step of an ended job stays as it was.
   */
  async markActive(ref: JobRef): Promise<JobStartOutcome> {
    const now = new Date();
    const startJob = (db: QueryCreator<Database>) =>
      db
        .updateTable('jobs')
        .set((eb) => ({ status: 'active', attempts: eb('attempts', '+', 1), updatedAt: now }))
        .where('id', '=', ref.jobId)
        .where('status', 'in', ['queued', 'active'])
        .returning('id');
    const { step } = ref;
    // One statement, so one round trip, for what every attempt of every job records first (in a transaction
    // it was four: BEGIN, two UPDATEs, COMMIT). The step's update reads the job's, so it runs only when the
    // job was started; PostgreSQL runs a data-modifying WITH whether or not the query reads its rows.
    const started =
      step === undefined
        ? await startJob(this.db).executeTakeFirst()
        : await this.db
            .with('job', startJob)
            .with('step', (db) =>
              db
                .updateTable('job_steps')
                .set((eb) => ({ state: 'active', attempts: eb('attempts', '+', 1), updatedAt: now }))
                .where('jobId', 'in', db.selectFrom('job').select('id'))
                .where('step', '=', step)
                .returning('step'),
            )
            .selectFrom('job')
            .select('id')
            .executeTakeFirst();
    if (started) return 'started';
    const job = await this.db.selectFrom('jobs').select('status').where('id', '=', ref.jobId).executeTakeFirst();
    return job?.status === 'completed' ? 'completed' : 'ended';
  }

  /**
   * A job (or step) put back on its queue without being charged an attempt: its database or a provider's
   * quota was away. It is queued again with `note` for its poller, and the attempt its run counted is taken
   * back when `uncount`. Nothing changes if it has moved since `since` (another worker picked it up).
   */
  async markWaiting(ref: JobRef, note: JobErrorRecord, options: { since: Date; uncount: boolean }): Promise<void> {
    const now = new Date();
    const json = JSON.stringify(note);
    const uncount = options.uncount ? 1 : 0;
    await this.db.transaction().execute(async (trx) => {
      if (ref.step !== undefined) {
        const step = await trx
          .updateTable('job_steps')
          .set((eb) => ({ state: 'queued', error: json, attempts: eb('attempts', '-', uncount), updatedAt: now }))
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .where('state', 'in', ['queued', 'active'])
          .where(toMilliseconds('updatedAt'), '<=', options.since)
          .executeTakeFirst();
        // The submission stays active as a whole (other steps may run); only the count is taken back.
        if (step.numUpdatedRows > 0n && uncount > 0) {
          await trx
            .updateTable('jobs')
            .set((eb) => ({ attempts: eb('attempts', '-', uncount) }))
            .where('id', '=', ref.jobId)
            .execute();
        }
        return;
      }
      await trx
        .updateTable('jobs')
        .set((eb) => ({ status: 'queued', error: json, attempts: eb('attempts', '-', uncount), updatedAt: now }))
        .where('id', '=', ref.jobId)
        .where('status', 'in', ['queued', 'active'])
        .where(toMilliseconds('updatedAt'), '<=', options.since)
        .execute();
    });
  }

  /** Throws while the database cannot be reached: the job runtime probes it during an outage. */
  async ping(): Promise<void> {
    await pingDatabase(this.db);
  }

  /**
   * A job with steps completes, with its last step's result, once every step has. The job's end writes its
   * webhook deliveries (job.completed) in the same commit: a crash cannot leave a completed job whose
   * webhooks are never told.
   */
  async markCompleted(ref: JobRef, result: StepResult): Promise<JobCompletion> {
    return this.db.transaction().execute((trx) => recordCompletion(trx, ref, result, { countAttempt: false }));
  }

  /**
   * Runs `work` in the transaction that also records the step's start and its completion: one commit for
   * the attempt's whole record, where `markActive`, the handler's writes and `markCompleted` would take
   * three. Its start is checked as `markActive` checks it, and the job's row stays locked until the commit,
   * so `work` should be writes to PostgreSQL only. When `work` throws, nothing of the attempt is written:
   * its failure is recorded with its attempt counted (`markRetrying`/`markFailed` with `countAttempt`).
   */
  async completeInCommit<R extends StepResult>(ref: JobRef, work: (db: Db) => Promise<R>): Promise<StepCommit<R>> {
    return this.db.transaction().execute(async (trx): Promise<StepCommit<R>> => {
      const job = await trx
        .selectFrom('jobs')
        .select('status')
        .where('id', '=', ref.jobId)
        .forUpdate()
        .executeTakeFirst();
      if (job?.status === 'completed') return { start: 'completed' };
      if (job?.status !== 'queued' && job?.status !== 'active') return { start: 'ended' };
      const result = await work(trx);
      const completion = await recordCompletion(trx, ref, result, { countAttempt: true });
      return { start: 'started', result, completion };
    });
  }

  /** A failed attempt that will be retried: back to queued, with the reason for the poller. */
  async markRetrying(
    ref: JobRef,
    error: JobErrorRecord,
    options: AttemptCount = { countAttempt: false },
  ): Promise<void> {
    const json = JSON.stringify(error);
    const count = options.countAttempt ? 1 : 0;
    const now = new Date();
    if (ref.step !== undefined) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('job_steps')
          .set((eb) => ({ state: 'queued', error: json, attempts: eb('attempts', '+', count), updatedAt: now }))
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step as number)
          .execute();
        if (count > 0) await countJobAttempt(trx, ref.jobId);
      });
      return;
    }
    await this.db
      .updateTable('jobs')
      .set((eb) => ({ status: 'queued', error: json, attempts: eb('attempts', '+', count), updatedAt: now }))
      .where('id', '=', ref.jobId)
      .execute();
  }

  /**
   * A step's final failure fails its whole job, with a message that names the step. The job's webhook
   * deliveries (job.failed) are written in the same commit; answers their ids.
   */
  async markFailed(
    ref: JobRef,
    error: JobErrorRecord,
    options: AttemptCount = { countAttempt: false },
  ): Promise<string[]> {
    const now = new Date();
    const count = options.countAttempt ? 1 : 0;
    return this.db.transaction().execute(async (trx) => {
      let jobError = error;
      if (ref.step !== undefined) {
        const step = await trx
          .updateTable('job_steps')
          .set((eb) => ({
            state: 'failed',
            error: JSON.stringify(error),
            attempts: eb('attempts', '+', count),
            updatedAt: now,
          }))
          .where('jobId', '=', ref.jobId)
          .where('step', '=', ref.step)
          .returning('label')
          .executeTakeFirst();
        jobError = { ...error, message: `${step?.label ?? `step ${ref.step}`}: ${error.message}` };
      }
      await trx
        .updateTable('jobs')
        .set((eb) => ({
          status: 'failed',
          error: JSON.stringify(jobError),
          attempts: eb('attempts', '+', count),
          updatedAt: now,
          finishedAt: now,
        }))
        .where('id', '=', ref.jobId)
        .execute();
      return deliveryIds(await insertDeliveries(trx, ref.jobId, 'job.failed').returning('id').execute());
    });
  }

  /**
   * Retention: deletes the inputs of up to `limit` ended (completed or failed) jobs in one short statement;
   * answers how many inputs it deleted.
   */
  async deleteEndedJobInputs(limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('job_inputs')
      .where('jobId', 'in', (eb) =>
        eb
          .selectFrom('job_inputs as input')
          .innerJoin('jobs', 'jobs.id', 'input.jobId')
          .select('input.jobId')
          .where('jobs.status', 'in', ['completed', 'failed'])
          .limit(limit),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Retention: up to `limit` failed submissions (posts, blogs) that ended before `before` and whose staged
   * uploads are not yet deleted, in id order after `afterId`.
   */
  async findFailedSubmissions(before: Date, limit: number, afterId?: string): Promise<FailedSubmission[]> {
    let query = this.db
      .selectFrom('jobs')
      .select('id')
      // The chain's requests only: a blog's plan also holds its content.
      .select(sql<JobRequest[] | null>`payload -> 'first'`.as('first'))
      .select((eb) =>
        jsonArrayFrom(
          eb
            .selectFrom('job_steps')
            .select('step')
            .whereRef('job_steps.jobId', '=', 'jobs.id')
            .where('state', '=', 'completed'),
        ).as('completed'),
      )
      // As the partial index of migration 0009 says it, so that the index serves this lookup.
      .where(
        sql<boolean>`status = 'failed' and kind in ('submit-post', 'submit-blog') and "stagedUploadsCleanedAt" is null`,
      )
      .where('finishedAt', '<', before)
      .orderBy('id')
      .limit(limit);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.execute();
    return rows.map(({ id, first, completed }) => ({
      id,
      first: first ?? [],
      completedSteps: completed.map(({ step }) => step),
    }));
  }

  /** Retention deleted the job's staged uploads; false when it is no longer failed (it was run again). */
  async markStagedUploadsCleaned(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ stagedUploadsCleanedAt: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'failed')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

/**
 * The step's completion (with the job's, once every step has completed) and the job's webhook
 * deliveries, inside the caller's transaction.
 */
async function recordCompletion(
  trx: Db,
  ref: JobRef,
  result: StepResult,
  options: AttemptCount,
): Promise<JobCompletion> {
  const now = new Date();
  const json = JSON.stringify(result);
  const count = options.countAttempt ? 1 : 0;
  if (ref.step !== undefined) {
    await trx
      .updateTable('job_steps')
      .set((eb) => ({
        state: 'completed',
        result: json,
        error: null,
        attempts: eb('attempts', '+', count),
        updatedAt: now,
      }))
      .where('jobId', '=', ref.jobId)
      .where('step', '=', ref.step)
      .execute();
    if (count > 0) await countJobAttempt(trx, ref.jobId);
    const unfinished = await trx
      .selectFrom('job_steps')
      .select('step')
      .where('jobId', '=', ref.jobId)
      .where('state', '!=', 'completed')
      .executeTakeFirst();
    if (unfinished) return { jobCompleted: false, deliveries: [] };
  }
  await trx
    .updateTable('jobs')
    .set((eb) => ({
      status: 'completed',
      result: json,
      error: null,
      attempts: eb('attempts', '+', ref.step === undefined ? count : 0),
      updatedAt: now,
      finishedAt: now,
    }))
    .where('id', '=', ref.jobId)
    .execute();
  const deliveries = await insertDeliveries(trx, ref.jobId, 'job.completed').returning('id').execute();
  return { jobCompleted: true, deliveries: deliveryIds(deliveries) };
}

/** One more attempt on the job's row, for an attempt of one of its steps. */
async function countJobAttempt(trx: Db, jobId: string): Promise<void> {
  await trx
    .updateTable('jobs')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', jobId)
    .execute();
}

function deliveryIds(rows: Array<{ id: string }>): string[] {
  return rows.map(({ id }) => id);
}

/** The poll's query: the job's status columns and its steps, for its owner only. */
function pollStatement(db: Db) {
  return prepared(db, 'job_status_for_owner', ['id', 'ownerId'], (db, param) =>
    db
      .selectFrom('jobs')
      .select(STATUS_COLUMNS)
      .select((eb) =>
        jsonArrayFrom(
          eb
            .selectFrom('job_steps')
            .select(['step', 'job_steps.kind', 'label', 'state', 'attempts', 'error'])
            .whereRef('job_steps.jobId', '=', 'jobs.id')
            .orderBy('step'),
        ).as('steps'),
      )
      .where('jobs.id', '=', param.id)
      .where('jobs.ownerId', '=', param.ownerId),
  );
}

/** A job's row as its insert takes it: its plan serialized, and its in-flight cap. */
interface JobValues {
  id: string;
  kind: string;
  ownerId: string;
  payload: string;
  cap: number | undefined;
}

function jobValues(job: NewJobRecord): JobValues {
  return { id: job.id, kind: job.kind, ownerId: job.ownerId, payload: JSON.stringify(job.plan), cap: job.inFlightCap };
}

const SINGLE_INSERT_PARAMS = [
  'id',
  'kind',
  'ownerId',
  'payload',
  'cap',
  'userId',
  'key',
  'status',
  'response',
  'requestHash',
] as const;
type SingleInsertValues = Record<(typeof SINGLE_INSERT_PARAMS)[number], unknown>;
/** The answer's values of a statement that writes none. */
const ANSWER_UNUSED = { userId: null, key: null, status: null, response: null, requestHash: null };

/** How a job's commit writes its answer: none, under a key claimed before, or claiming the key. */
type AnswerWrite = 'none' | 'update' | 'claim';

function answerWrite(answer: IdempotentAnswer | undefined): AnswerWrite {
  if (!answer) return 'none';
  return answer.requestHash === undefined ? 'update' : 'claim';
}

/**
 * The insert of a job, returning its id. With an in-flight cap it takes the owner's lowest free slot of
 * the job's kind, and inserts nothing when every slot is held.
 */
function insertJob(db: QueryCreator<Database>, row: Omit<JobValues, 'cap'>, cap: number | string | undefined) {
  const values = { id: row.id, kind: row.kind as JobKind, ownerId: row.ownerId, payload: row.payload };
  if (cap === undefined) return db.insertInto('jobs').values(values).returning('id');
  return db
    .insertInto('jobs')
    .columns(['id', 'kind', 'ownerId', 'payload', 'inFlightSlot'])
    .expression(
      // The lowest free slot is 0 or one past a held slot: only those candidates are probed, so the cost
      // follows the slots the owner holds, not the cap (a series over 0..cap-1 is materialized whole and
      // each of its rows probed: 2 ms a job at a cap of 10,000, against 0.1 ms this way).
      sql`select ${row.id}::uuid, ${row.kind}, ${row.ownerId}, ${row.payload}::jsonb, slot::smallint
        from (
          select 0 as slot
          union all
          select "inFlightSlot" + 1 from jobs
          where "ownerId" = ${row.ownerId} and kind = ${row.kind} and status in ('queued', 'active')
            and "inFlightSlot" is not null
        ) as candidate
        where slot < ${cap}::integer and not exists (
          select 1 from jobs
          where "ownerId" = ${row.ownerId} and kind = ${row.kind} and status in ('queued', 'active')
            and "inFlightSlot" = candidate.slot
        )
        order by slot
        limit 1`,
    )
    .returning('id');
}

/** A concurrent request took the slot this insert picked: the unique index refused the second. */
function isSlotTaken(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === SLOT_INDEX;
}

/** A promote-media step's result is the stored file. */
function isStoredMedia(result: StepResult | null): result is StoredMedia {
  return result !== null && 'providerId' in result;
}

/**
 * A timestamp column cut to the millisecond, as JavaScript's Dates hold time: PostgreSQL's now() keeps
 * microseconds, so a row written in the same millisecond as a Date would otherwise count as after it.
 */
function toMilliseconds(column: 'updatedAt') {
  return sql<Date>`date_trunc('milliseconds', ${sql.ref(column)})`;
}
