import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { IdempotencyKeysRepository } from './idempotency-keys.ts';

const LIFETIME_MS = 24 * 60 * 60 * 1000;
const STALE_CLAIM_MS = 60 * 1000;
/** A take-over answers at once; one that cannot happen keeps trying, so these tests give up early. */
const TAKE_OVER = { timeout: 5_000 };

describe('IdempotencyKeysRepository', () => {
  let database: TestDatabase;
  let keys: IdempotencyKeysRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    keys = new IdempotencyKeysRepository(database.db, { lifetimeMs: LIFETIME_MS, staleClaimMs: STALE_CLAIM_MS });
  });
  afterAll(() => database.drop());

  async function newUser(): Promise<string> {
    const id = `user-${randomUUID()}`;
    await database.db.insertInto('users').values({ id }).execute();
    return id;
  }

  const row = (userId: string, key: string) =>
    database.db
      .selectFrom('idempotency_keys')
      .select(['requestHash', 'status', 'response', 'createdAt'])
      .where('userId', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();

  /** Moves the key's claim back in time, as PostgreSQL keeps it (to the microsecond). */
  const age = (userId: string, key: string, ms: number) =>
    sql`update idempotency_keys set "createdAt" = "createdAt" - make_interval(secs => ${ms / 1000})
        where "userId" = ${userId} and "key" = ${key}`.execute(database.db);

  it('claims a new key, recording the request it guards, unanswered', async () => {
    const user = await newUser();
    expect(await keys.claim(user, 'k1', 'hash-a')).toEqual({ kind: 'claimed' });
    expect(await row(user, 'k1')).toMatchObject({ requestHash: 'hash-a', status: null, response: null });
  });

  it('tells a repeat of a request still being answered that it is in progress', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'in-progress' });
  });

  it('replays the answer to a repeat of an answered request', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    const response = { jobId: randomUUID(), status: 'queued', links: { self: '/v1/jobs/x' } };
    await keys.complete({ userId: user, key: 'k', status: 202, response: response });
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'replay', status: 202, response });
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'replay', status: 202, response });
  });

  it('refuses the same key with another request, answered or not', async () => {
    const user = await newUser();
    await keys.claim(user, 'pending', 'hash-a');
    expect(await keys.claim(user, 'pending', 'hash-b')).toEqual({ kind: 'mismatch' });
    await keys.claim(user, 'done', 'hash-a');
    await keys.complete({ userId: user, key: 'done', status: 201, response: { id: 1 } });
    expect(await keys.claim(user, 'done', 'hash-b')).toEqual({ kind: 'mismatch' });
    expect(await row(user, 'done')).toMatchObject({ requestHash: 'hash-a', status: 201, response: { id: 1 } });
  });

  it("keeps one user's keys apart from another's", async () => {
    const alice = await newUser();
    const bob = await newUser();
    await keys.claim(alice, 'shared', 'hash-a');
    await keys.complete({ userId: alice, key: 'shared', status: 202, response: { owner: 'alice' } });
    expect(await keys.claim(bob, 'shared', 'hash-b')).toEqual({ kind: 'claimed' });
    await keys.complete({ userId: bob, key: 'shared', status: 400, response: { owner: 'bob' } });
    expect(await keys.claim(alice, 'shared', 'hash-a')).toEqual({
      kind: 'replay',
      status: 202,
      response: { owner: 'alice' },
    });
  });

  it('lets exactly one of several simultaneous requests claim a key', async () => {
    const user = await newUser();
    const claims = await Promise.all(Array.from({ length: 6 }, () => keys.claim(user, 'race', 'hash-a')));
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.kind === 'in-progress')).toHaveLength(5);
  });

  it('lets a request take over a claim whose request died without answering', TAKE_OVER, async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await age(user, 'k', STALE_CLAIM_MS + 5_000);
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'claimed' });
    const taken = await row(user, 'k');
    expect(taken).toMatchObject({ requestHash: 'hash-b', status: null });
    expect(Date.now() - (taken?.createdAt.getTime() ?? 0)).toBeLessThan(STALE_CLAIM_MS);
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'in-progress' });
  });

  it('lets exactly one of several simultaneous requests take over a stale claim', TAKE_OVER, async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await age(user, 'k', STALE_CLAIM_MS + 5_000);
    const claims = await Promise.all(Array.from({ length: 4 }, () => keys.claim(user, 'k', 'hash-a')));
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.kind === 'in-progress')).toHaveLength(3);
  });

  it('does not take over a claim that is merely slow', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await age(user, 'k', STALE_CLAIM_MS - 5_000);
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'in-progress' });
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'mismatch' });
  });

  it('keeps replaying an answer older than a stale claim but within the lifetime', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await keys.complete({ userId: user, key: 'k', status: 202, response: { jobId: 'j' } });
    await age(user, 'k', LIFETIME_MS - 60_000);
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'replay', status: 202, response: { jobId: 'j' } });
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'mismatch' });
  });

  it('forgets an expired key: a new request claims it afresh', TAKE_OVER, async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await keys.complete({ userId: user, key: 'k', status: 202, response: { jobId: 'old' } });
    await age(user, 'k', LIFETIME_MS + 60_000);
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'claimed' });
    expect(await row(user, 'k')).toMatchObject({ requestHash: 'hash-b', status: null, response: null });
  });

  it('frees an unanswered key on release, so a corrected retry can claim it', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await keys.release(user, 'k');
    expect(await row(user, 'k')).toBeUndefined();
    expect(await keys.claim(user, 'k', 'hash-b')).toEqual({ kind: 'claimed' });
  });

  it('frees an answered key on release too: the work it answered was undone', async () => {
    const user = await newUser();
    await keys.claim(user, 'k', 'hash-a');
    await keys.complete({ userId: user, key: 'k', status: 202, response: { jobId: 'j' } });
    await keys.release(user, 'k');
    expect(await row(user, 'k')).toBeUndefined();
    expect(await keys.claim(user, 'k', 'hash-a')).toEqual({ kind: 'claimed' });
  });

  it("releases only the named user's key", async () => {
    const alice = await newUser();
    const bob = await newUser();
    await keys.claim(alice, 'k', 'hash-a');
    await keys.claim(bob, 'k', 'hash-a');
    await keys.release(alice, 'k');
    expect(await row(alice, 'k')).toBeUndefined();
    expect(await row(bob, 'k')).toBeDefined();
  });

  it('deletes keys past their lifetime, at most `limit` at a time, answered or not, and keeps younger ones', async () => {
    // Keys that earlier tests aged are deleted first: this test counts its own.
    while ((await keys.deleteExpired(1000)) > 0);
    const user = await newUser();
    for (const key of ['old-answered', 'old-claimed', 'old-2', 'young']) await keys.claim(user, key, 'hash-a');
    await keys.complete({ userId: user, key: 'old-answered', status: 202, response: { jobId: 'j' } });
    for (const key of ['old-answered', 'old-claimed', 'old-2']) await age(user, key, LIFETIME_MS + 1_000);
    await age(user, 'young', LIFETIME_MS - 60_000);

    expect(await keys.deleteExpired(2)).toBe(2);
    expect(await keys.deleteExpired(2)).toBe(1);
    expect(await keys.deleteExpired(2)).toBe(0);
    for (const key of ['old-answered', 'old-claimed', 'old-2']) expect(await row(user, key)).toBeUndefined();
    expect(await row(user, 'young')).toBeDefined();
  });
});
