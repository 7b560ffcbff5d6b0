import { createHash } from 'node:crypto';
import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { type FollowRequest, type JobChanges, type JobEvent, JobEvents, snapshotId } from './job-events.ts';
import type { JobView } from './jobs.ts';

const JOB = '0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11';
const queued: JobView = { jobId: JOB, kind: 'generate-image', status: 'queued', attempts: 0 };
const active: JobView = { ...queued, status: 'active', attempts: 1 };
const failed: JobView = {
  ...active,
  status: 'failed',
  error: { code: 'provider_blocked', message: 'no', retryable: false },
};

/** Job changes as the Redis subscriber hears them: `announce` calls the job's listeners. */
class FakeChanges implements JobChanges {
  readonly listeners = new Map<string, Set<() => void>>();
  readonly log: string[];
  failWith: Error | undefined;

  constructor(log: string[]) {
    this.log = log;
  }

  async listen(jobId: string, listener: () => void): Promise<() => void> {
    if (this.failWith) throw this.failWith;
    this.log.push('listen');
    const listeners = this.listeners.get(jobId) ?? new Set();
    listeners.add(listener);
    this.listeners.set(jobId, listeners);
    return () => listeners.delete(listener);
  }

  announce(jobId = JOB): void {
    for (const listener of [...(this.listeners.get(jobId) ?? [])]) listener();
  }

  count(jobId = JOB): number {
    return this.listeners.get(jobId)?.size ?? 0;
  }
}

/** The job as PostgreSQL has it, for its owner alice; `during` runs while a read is under way. */
class FakeJobStates {
  state: JobView | undefined = queued;
  reads = 0;
  failWith: Error | undefined;
  during: (() => void) | undefined;
  readonly log: string[];

  constructor(log: string[]) {
    this.log = log;
  }

  async status(ownerId: string, jobId: string): Promise<JobView> {
    this.log.push('read');
    this.reads += 1;
    const state = this.state;
    const during = this.during;
    this.during = undefined;
    during?.();
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (this.failWith) throw this.failWith;
    if (!state || ownerId !== 'alice' || jobId !== JOB) throw new HttpError(404, 'not_found', `no job ${jobId}`);
    return structuredClone(state);
  }
}

function setup() {
  const log: string[] = [];
  const changes = new FakeChanges(log);
  const jobs = new FakeJobStates(log);
  const warnings: unknown[] = [];
  const events = new JobEvents({
    jobs,
    changes,
    log: { ...silentLogger, error: () => {}, warn: (entry: unknown) => warnings.push(entry) } as typeof silentLogger,
  });
  const sent: JobEvent[] = [];
  let ended = 0;
  const follow = (options: Partial<FollowRequest> = {}) =>
    events.follow({
      ownerId: 'alice',
      jobId: JOB,
      serialize: (job) => JSON.stringify(job),
      send: (event) => sent.push(event),
      end: () => {
        ended += 1;
      },
      ...options,
    });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { log, changes, jobs, warnings, sent, follow, settle, ended: () => ended };
}

const eventOf = (job: JobView, final = false): JobEvent => {
  const data = JSON.stringify(job);
  return { id: snapshotId(data), data, final };
};

describe('snapshotId', () => {
  it("is the hash GET /api/jobs/:id's ETag quotes", () => {
    const body = JSON.stringify(queued);
    expect(snapshotId(body)).toBe(createHash('sha1').update(body).digest('base64url'));
  });
});

describe('JobEvents.follow', () => {
  it('subscribes before it reads, sends the current state at once, then each change, and ends after the final one', async () => {
    const { log, changes, jobs, sent, follow, settle, ended } = setup();
    const following = await follow();
    expect(following.finished).toBe(false);
    expect(log).toEqual(['listen', 'read']);
    expect(sent).toEqual([eventOf(queued)]);

    jobs.state = active;
    changes.announce();
    await settle();
    expect(sent).toEqual([eventOf(queued), eventOf(active)]);

    // A change of something the answer does not show (or a second announcement) sends nothing.
    changes.announce();
    await settle();
    expect(sent).toHaveLength(2);
    expect(ended()).toBe(0);

    jobs.state = failed;
    changes.announce();
    await settle();
    expect(sent).toEqual([eventOf(queued), eventOf(active), eventOf(failed, true)]);
    expect(ended()).toBe(1);
    expect(changes.count()).toBe(0);
    changes.announce();
    await settle();
    expect(ended()).toBe(1);
  });

  it('loses no change committed while the first read was under way: it reads again', async () => {
    const { changes, jobs, sent, follow, settle } = setup();
    // The read sees the state from before the change; the announcement comes while it runs.
    jobs.during = () => {
      jobs.state = active;
      changes.announce();
    };
    await follow();
    await settle();
    expect(sent).toEqual([eventOf(queued), eventOf(active)]);
    expect(jobs.reads).toBe(2);
  });

  it('reads once more, not once per announcement, when several come during a read', async () => {
    const { changes, jobs, sent, follow, settle } = setup();
    await follow();
    jobs.during = () => {
      for (let i = 0; i < 10; i++) changes.announce();
    };
    jobs.state = active;
    changes.announce();
    await settle();
    expect(jobs.reads).toBe(3);
    expect(sent).toEqual([eventOf(queued), eventOf(active)]);
  });

  it('reads a job once for all of its streams that one change wakes, and again for a later change', async () => {
    const { changes, jobs, sent, follow, settle } = setup();
    await Promise.all([follow(), follow(), follow()]);
    const readsBefore = jobs.reads;
    jobs.state = active;
    changes.announce();
    await settle();
    expect(jobs.reads - readsBefore).toBe(1);
    expect(sent.filter((event) => event.id === eventOf(active).id)).toHaveLength(3);

    jobs.state = failed;
    changes.announce();
    await settle();
    expect(jobs.reads - readsBefore).toBe(2);
    expect(sent.filter((event) => event.final)).toHaveLength(3);
  });

  it("answers 404 for another user's job (or none), and follows nothing then", async () => {
    const { changes, sent, follow } = setup();
    await expect(follow({ ownerId: 'mallory' })).rejects.toMatchObject({ statusCode: 404, code: 'not_found' });
    expect(sent).toEqual([]);
    expect(changes.count()).toBe(0);
  });

  it('answers 503 when changes cannot be heard of', async () => {
    const { changes, jobs, follow } = setup();
    changes.failWith = new Error('Redis did not answer within 5000 ms');
    await expect(follow()).rejects.toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(jobs.reads).toBe(0);
  });

  it('skips the state the client has (Last-Event-ID) until the next change', async () => {
    const { changes, jobs, sent, follow, settle } = setup();
    const following = await follow({ lastEventId: eventOf(queued).id });
    expect(following.finished).toBe(false);
    expect(sent).toEqual([]);
    jobs.state = active;
    changes.announce();
    await settle();
    expect(sent).toEqual([eventOf(active)]);
  });

  it('has nothing to stream when the client has the final state already', async () => {
    const { changes, jobs, sent, follow, ended } = setup();
    jobs.state = failed;
    const following = await follow({ lastEventId: eventOf(failed).id });
    expect(following).toMatchObject({ finished: true });
    expect(sent).toEqual([]);
    expect(ended()).toBe(0);
    expect(changes.count()).toBe(0);
  });

  it('sends a final state it finds at once, and ends', async () => {
    const { changes, jobs, sent, follow, ended } = setup();
    jobs.state = failed;
    // An older id: the client missed the end.
    const following = await follow({ lastEventId: eventOf(active).id });
    expect(following.finished).toBe(false);
    expect(sent).toEqual([eventOf(failed, true)]);
    expect(ended()).toBe(1);
    expect(changes.count()).toBe(0);
  });

  it('stops following when the client goes away', async () => {
    const { changes, jobs, sent, follow, settle, ended } = setup();
    const following = await follow();
    following.close();
    expect(changes.count()).toBe(0);
    jobs.state = active;
    changes.announce();
    await settle();
    expect(sent).toHaveLength(1);
    expect(ended()).toBe(0);
  });

  it('ends the stream when the job can no longer be read (the client reconnects or polls)', async () => {
    const { changes, jobs, warnings, follow, settle, ended } = setup();
    await follow();
    jobs.failWith = new Error('connection terminated');
    changes.announce();
    await settle();
    expect(ended()).toBe(1);
    expect(changes.count()).toBe(0);
    expect(warnings).toHaveLength(1);
  });
});
