import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { type Answer, Idempotency, type IdempotentRequest } from './idempotency.ts';
import { type NewSubmission, Submissions } from './submissions.ts';
import { FakeIdempotencyKeys, FakeJobs, FakeQueues, fakeEventsUrl } from './test-fakes.ts';

const request: IdempotentRequest = { userId: 'alice', key: 'key-1', fingerprint: 'request-a' };

/** Alice's generation of a cat, as Submissions.accept takes it. */
const catGeneration = (jobId: string): NewSubmission => ({
  kind: 'generate-image',
  ownerId: 'alice',
  plan: {
    last: { name: 'generate-image', payload: { jobId, ownerId: 'alice', prompt: 'a cat', hasReference: false } },
  },
});

function setup() {
  const keys = new FakeIdempotencyKeys();
  return { keys, idempotency: new Idempotency(keys) };
}

describe('Idempotency.run', () => {
  it('runs the work and keeps its answer under the key', async () => {
    const { keys, idempotency } = setup();
    const answer = await idempotency.run(request, async () => ({ status: 201, body: { id: 'b1' } }));
    expect(answer).toEqual({ status: 201, body: { id: 'b1' }, replayed: false });
    expect(keys.completed).toEqual([{ userId: 'alice', key: 'key-1', status: 201, response: { id: 'b1' } }]);
  });

  it('replays the stored answer without running the work again', async () => {
    const { keys, idempotency } = setup();
    await idempotency.run(request, async () => ({ status: 201, body: { id: 'b1' } }));
    let runs = 0;
    const again = await idempotency.run(request, async () => {
      runs += 1;
      return { status: 201, body: { id: 'b2' } };
    });
    expect(again).toEqual({ status: 201, body: { id: 'b1' }, replayed: true });
    expect(runs).toBe(0);
    expect(keys.completed).toHaveLength(1);
  });

  it('refuses the key for a different request (422) and while its request is being answered (409)', async () => {
    const { idempotency } = setup();
    let finish: () => void = () => {};
    const running = idempotency.run(request, async () => {
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      return { status: 201, body: {} };
    });
    const work = async () => ({ status: 201, body: {} });
    await expect(idempotency.run(request, work)).rejects.toMatchObject({
      statusCode: 409,
      code: 'conflict',
      retryAfterS: 2,
    });
    await expect(idempotency.run({ ...request, fingerprint: 'request-b' }, work)).rejects.toMatchObject({
      statusCode: 422,
      code: 'idempotency_key_reused',
    });
    finish();
    await running;
  });

  it('releases the key when the work throws, so a corrected request can use it', async () => {
    const { keys, idempotency } = setup();
    const failure = new HttpError(400, 'invalid_input', 'name must not be blank');
    await expect(
      idempotency.run(request, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(keys.released).toEqual(['alice/key-1']);
    expect(keys.completed).toHaveLength(0);
    const fixed = await idempotency.run({ ...request, fingerprint: 'request-b' }, async () => ({
      status: 201,
      body: { id: 'b1' },
    }));
    expect(fixed.replayed).toBe(false);
  });

  it('refuses a malformed key with 400 before claiming it', async () => {
    const { keys, idempotency } = setup();
    const work = async () => ({ status: 201, body: {} });
    for (const key of ['', 'has space', 'x'.repeat(201), 'naïve']) {
      await expect(idempotency.run({ ...request, key }, work)).rejects.toMatchObject({
        statusCode: 400,
        message: 'Idempotency-Key must be 1 to 200 visible ASCII characters',
      });
    }
    expect(keys.keys.size).toBe(0);
  });

  it('just runs the work when the request has no key', async () => {
    const { keys, idempotency } = setup();
    const answer = await idempotency.run(undefined, async (scope) => ({
      status: 202,
      body: { written: scope.answer(202, {}) },
    }));
    expect(answer).toEqual({ status: 202, body: { written: undefined }, replayed: false });
    expect(keys.keys.size).toBe(0);
  });

  it('does not write an answer twice when the work wrote it in its own commit, and replays it', async () => {
    const keys = new FakeIdempotencyKeys();
    const jobs = new FakeJobs(keys);
    const submissions = new Submissions({
      jobs,
      queues: new FakeQueues(),
      log: silentLogger,
      eventsUrl: fakeEventsUrl,
    });
    const idempotency = new Idempotency(keys, { replayed: (userId, answer) => submissions.replayed(userId, answer) });
    const accept = () => idempotency.run(request, (scope) => submissions.accept(catGeneration, scope));

    const first = await accept();
    // Stored without the eventsUrl: its token is kept nowhere.
    const { eventsUrl, ...stored } = first.body;
    expect(jobs.answers).toEqual([{ userId: 'alice', key: 'key-1', status: 202, response: stored }]);
    expect(keys.completed).toHaveLength(0);

    // The replay is the same answer, with a new token in its eventsUrl (the first may have expired).
    const second = await accept();
    expect(second).toEqual({
      status: 202,
      body: { ...stored, eventsUrl: expect.stringMatching(`^/api/jobs/${first.body.jobId}/events\\?token=`) },
      replayed: true,
    });
    expect(second.body.eventsUrl).not.toBe(eventsUrl);
    expect(jobs.rows.size).toBe(1);
  });

  it('replays any other answer as it was stored', async () => {
    const keys = new FakeIdempotencyKeys();
    const submissions = new Submissions({
      jobs: new FakeJobs(keys),
      queues: new FakeQueues(),
      log: silentLogger,
      eventsUrl: fakeEventsUrl,
    });
    const idempotency = new Idempotency(keys, { replayed: (userId, answer) => submissions.replayed(userId, answer) });
    // An admin's retry answers 202 too, but it is not an accepted submission (it has no statusUrl).
    const answers: Array<Answer<unknown>> = [
      { status: 201, body: { id: 'brand-1', name: 'Acme' } },
      { status: 202, body: { jobId: 'job-1', status: 'queued' } },
    ];
    for (const [index, answer] of answers.entries()) {
      const run = () => idempotency.run({ ...request, key: `other-${index}` }, async () => answer);
      await run();
      expect(await run()).toEqual({ ...answer, replayed: true });
    }
  });

  it('frees the key when the job written with its answer could not be queued', async () => {
    const keys = new FakeIdempotencyKeys();
    const jobs = new FakeJobs(keys);
    const queues = new FakeQueues();
    queues.failWith = new Error('Redis is down');
    const submissions = new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl });
    const refused = new Idempotency(keys).run(request, (scope) => submissions.accept(catGeneration, scope));
    await expect(refused).rejects.toMatchObject({ statusCode: 503 });
    expect(jobs.rows.size).toBe(0);
    expect(keys.keys.size).toBe(0);
  });
});

describe('Idempotency.run with claimInCommit', () => {
  function accepting() {
    const keys = new FakeIdempotencyKeys();
    const jobs = new FakeJobs(keys);
    const queues = new FakeQueues();
    const submissions = new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl });
    const idempotency = new Idempotency(keys, { replayed: (userId, answer) => submissions.replayed(userId, answer) });
    let runs = 0;
    const accept = (req: IdempotentRequest = request) =>
      idempotency.run(
        req,
        (scope) => {
          runs += 1;
          return submissions.accept(catGeneration, scope);
        },
        { claimInCommit: true },
      );
    return { keys, jobs, queues, accept, runs: () => runs };
  }

  it("claims the key in the job's own commit, with no claim before it", async () => {
    const { keys, jobs, accept } = accepting();
    const first = await accept();
    const { eventsUrl, ...stored } = first.body;
    expect(first.replayed).toBe(false);
    expect(jobs.answers).toEqual([
      { userId: 'alice', key: 'key-1', status: 202, response: stored, requestHash: 'request-a' },
    ]);
    expect(keys.keys.get('alice/key-1')).toEqual({ requestHash: 'request-a', status: 202, response: stored });
    expect(keys.completed).toHaveLength(0);
  });

  it('replays a repeat without a second job, and refuses the key for a different request (422)', async () => {
    const { jobs, accept, runs } = accepting();
    const first = await accept();
    const again = await accept();
    expect(again).toMatchObject({ status: 202, body: { jobId: first.body.jobId }, replayed: true });
    // The repeat's commit found the key and wrote nothing; the claim then replayed the stored answer.
    expect(runs()).toBe(2);
    expect(jobs.rows.size).toBe(1);
    await expect(accept({ ...request, fingerprint: 'request-b' })).rejects.toMatchObject({
      statusCode: 422,
      code: 'idempotency_key_reused',
    });
    expect(jobs.rows.size).toBe(1);
  });

  it('leaves the key free when the job could not be queued', async () => {
    const { keys, jobs, queues, accept } = accepting();
    queues.failWith = new Error('Redis is down');
    await expect(accept()).rejects.toMatchObject({ statusCode: 503 });
    expect(jobs.rows.size).toBe(0);
    expect(keys.keys.size).toBe(0);
    queues.failWith = undefined;
    expect(await accept()).toMatchObject({ status: 202, replayed: false });
  });

  it('refuses work that wrote no answer: nothing would keep it', async () => {
    const { idempotency } = setup();
    const answered = idempotency.run(request, async () => ({ status: 201, body: {} }), { claimInCommit: true });
    await expect(answered).rejects.toThrow(/wrote no answer/);
  });
});
