import { sql } from 'kysely';
import type { Db } from '../client.ts';

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

    const existing = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('userId', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
    const age = existing ? Date.now() - existing.createdAt.getTime() : Number.POSITIVE_INFINITY;
    // An expired key, or a claim whose request died without answering, may be taken over.
    const takeOver = !existing || age > this.lifetimeMs || (existing.status === null && age > this.staleClaimMs);
    if (takeOver) {
      const taken = await this.db
        .updateTable('idempotency_keys')
        .set({ requestHash, status: null, response: null, createdAt: new Date() })
        .where('userId', '=', userId)
        .where('key', '=', key)
        .where('createdAt', '=', existing?.createdAt ?? new Date(0))
        .returning('key')
        .executeTakeFirst();
      return taken ? { kind: 'claimed' } : this.claim(userId, key, requestHash);
    }
    if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
    if (existing.status === null) return { kind: 'in-progress' };
    return { kind: 'replay', status: existing.status, response: existing.response };
  }

  async complete(userId: string, key: string, status: number, response: unknown): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ status, response: JSON.stringify(response) })
      .where('userId', '=', userId)
      .where('key', '=', key)
      .execute();
  }

  /** The request failed: the key is free for a corrected retry. */
  async release(userId: string, key: string): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('userId', '=', userId)
      .where('key', '=', key)
      .where('status', 'is', null)
      .execute();
  }
}
