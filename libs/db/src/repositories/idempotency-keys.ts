import { type QueryCreator, sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../client.ts';
import type { Database } from '../schema.ts';

/** The answer to the request that created something, kept under its Idempotency-Key. */
export interface IdempotentAnswer {
  userId: string;
  key: string;
  status: number;
  response: unknown;
  /**
   * Set when the key is not claimed yet: the commit that writes the answer claims the key too, for a
   * request with this fingerprint, and fails with `IdempotencyKeyTaken` (writing nothing) if the key is
   * there already.
   */
  requestHash?: string;
}

/** A commit that was to claim a key with its answer found the key there already: it wrote nothing. */
export class IdempotencyKeyTaken extends Error {
  constructor(userId: string, key: string) {
    super(`Idempotency-Key ${key} of ${userId} is there already`);
    this.name = 'IdempotencyKeyTaken';
  }
}

/** The insert that claimed a key found it there (the key's primary key refused the second row). */
export function isKeyTaken(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === 'idempotency_keys_pkey';
}

/** Stores an answer under its claimed key: on its own, or inside the commit of the work it answers. */
export function recordAnswer(db: QueryCreator<Database>, answer: IdempotentAnswer) {
  return answerUpdate(db, answerValues(answer));
}

/** An answer as the statement that stores it takes it: its response serialized. */
export function answerValues(answer: IdempotentAnswer) {
  return {
    userId: answer.userId,
    key: answer.key,
    status: answer.status,
    response: JSON.stringify(answer.response),
    requestHash: answer.requestHash ?? null,
  };
}

/** `recordAnswer` on values already serialized (or a prepared statement's parameters). */
export function answerUpdate(
  db: QueryCreator<Database>,
  answer: { userId: string; key: string; status: number | string; response: string },
) {
  return db
    .updateTable('idempotency_keys')
    .set({ status: answer.status as number, response: answer.response })
    .where('userId', '=', answer.userId)
    .where('key', '=', answer.key);
}

/**
 * The claim of a key with its answer, in the commit of the work it answers (`requestHash` set), if
 * `condition` holds. A plain insert: a key there already fails the statement (`isKeyTaken`).
 */
export function answerInsert(
  db: QueryCreator<Database>,
  answer: { userId: string; key: string; status: number | string; response: string; requestHash: string },
  condition = sql<boolean>`true`,
) {
  return db
    .insertInto('idempotency_keys')
    .columns(['userId', 'key', 'requestHash', 'status', 'response'])
    .expression(
      sql`select ${answer.userId}, ${answer.key}, ${answer.requestHash}, ${answer.status}::integer,
        ${answer.response}::jsonb where ${condition}`,
    );
}

/**
 * How long a key's answer is replayed (24 h), and how long an unanswered claim waits before another request
 * may take it over: the gateway's keys and retention, which deletes expired ones, agree on these.
 */
export const IDEMPOTENCY_KEY_TIMES = { lifetimeMs: 24 * 3_600_000, staleClaimMs: 5 * 60_000 };

export type IdempotencyClaim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; response: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch' };

/**
 * Idempotency-Key bookkeeping. A key is claimed before the request does any work and completed with
 * its answer; a repeat within the key's lifetime gets that answer back and does nothing new.
 */
export class IdempotencyKeysRepository {
  private readonly db: Db;
  private readonly lifetimeMs: number;
  private readonly staleClaimMs: number;

  constructor(db: Db, options: { lifetimeMs: number; staleClaimMs: number }) {
    this.db = db;
    this.lifetimeMs = options.lifetimeMs;
    this.staleClaimMs = options.staleClaimMs;
  }

  async claim(userId: string, key: string, requestHash: string): Promise<IdempotencyClaim> {
    // Committed without waiting for the disk: the job this claim guards is written after it with a
    // durable commit, which makes the claim durable too (the log is written in order); a claim lost to a
    // crash before that guarded nothing. One round trip: the setting applies to this statement's commit.
    const { rows } = await sql<{ key: string }>`
      with no_flush as (select set_config('synchronous_commit', 'off', true))
      insert into idempotency_keys ("userId", "key", "requestHash")
      select ${userId}, ${key}, ${requestHash} from no_flush
      on conflict ("userId", "key") do nothing
      returning "key"`.execute(this.db);
    if (rows.length > 0) return { kind: 'claimed' };

    // An expired key, or a claim whose request died without answering, is taken over. Judged by the
    // database's clock in one conditional statement: of several requests racing for it, exactly one wins.
    const taken = await this.db
      .updateTable('idempotency_keys')
      .set({ requestHash, status: null, response: null, createdAt: sql<Date>`now()` })
      .where('userId', '=', userId)
      .where('key', '=', key)
      .where((eb) =>
        eb.or([
          eb('createdAt', '<', ago(this.lifetimeMs)),
          eb.and([eb('status', 'is', null), eb('createdAt', '<', ago(this.staleClaimMs))]),
        ]),
      )
      .returning('key')
      .executeTakeFirst();
    if (taken) return { kind: 'claimed' };

    const existing = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('userId', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
    // Released since the insert was refused: claim it afresh.
    if (!existing) return this.claim(userId, key, requestHash);
    if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
    if (existing.status === null) return { kind: 'in-progress' };
    return { kind: 'replay', status: existing.status, response: existing.response };
  }

  async complete(answer: IdempotentAnswer): Promise<void> {
    await recordAnswer(this.db, answer).execute();
  }

  /**
   * The request failed: the key is free for a corrected retry, even when its answer was already written
   * in the commit of work that was then undone (a job that could not be queued).
   */
  async release(userId: string, key: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('userId', '=', userId).where('key', '=', key).execute();
  }

  /**
   * Deletes up to `limit` keys past their lifetime; answers how many. The age is checked again on the row
   * it deletes: a key taken over meanwhile (its claim renewed) is kept.
   */
  async deleteExpired(limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('idempotency_keys')
      .where('createdAt', '<', ago(this.lifetimeMs))
      .where((eb) =>
        eb(
          eb.refTuple('userId', 'key'),
          'in',
          eb
            .selectFrom('idempotency_keys')
            .select(['userId', 'key'])
            .where('createdAt', '<', ago(this.lifetimeMs))
            .limit(limit)
            .$asTuple('userId', 'key'),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function ago(ms: number) {
  return sql<Date>`now() - make_interval(secs => ${ms / 1000})`;
}
