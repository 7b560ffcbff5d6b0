import type { JobPlan } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NO_IDEMPOTENCY_KEY } from './idempotency.ts';
import { Submissions } from './submissions.ts';
import { FakeJobs, FakeQueues, fakeEventsUrl } from './test-fakes.ts';

const generation = (jobId: string) => ({
  kind: 'generate-image' as const,
  ownerId: 'alice',
  plan: {
    last: { name: 'generate-image', payload: { jobId, ownerId: 'alice', prompt: 'a cat', hasReference: false } },
    context: { requestId: 'req-1' },
  } satisfies JobPlan,
});

describe('Submissions.accept', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the job with its plan, then queues the plan, and answers 202 with where to poll', async () => {
    const jobs = new FakeJobs();
    const queues = new FakeQueues();
    const answer = await new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl }).accept(
      generation,
      NO_IDEMPOTENCY_KEY,
    );
    const { jobId } = answer.body;
    expect(answer).toEqual({
      status: 202,
      body: {
        jobId,
        status: 'queued',
        statusUrl: `/api/jobs/${jobId}`,
        eventsUrl: expect.stringMatching(`^/api/jobs/${jobId}/events\\?token=alice\\.`),
      },
    });
    expect(jobs.only()).toEqual({ id: jobId, ...generation(jobId) });
    expect(queues.enqueued).toEqual([generation(jobId).plan]);
  });

  it('gives up on a queue that does not answer within 5 s: the row goes and the client hears 503', async () => {
    vi.useFakeTimers();
    const jobs = new FakeJobs();
    const queues = new FakeQueues();
    queues.enqueue = () => new Promise<void>(() => {});
    const accepted = new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl }).accept(
      generation,
      NO_IDEMPOTENCY_KEY,
    );
    const outcome = expect(accepted).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'the job queue is unavailable; nothing was saved, try again shortly',
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(jobs.rows.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(jobs.rows.size).toBe(0);
  });
});
