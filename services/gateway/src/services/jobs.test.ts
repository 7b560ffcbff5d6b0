import type { JobRow, JobStepView } from '@mediaflow/db';
import type { JobPlan, JobStatus } from '@mediaflow/domain';
import type { FailedQueueJob } from '@mediaflow/queue';
import { describe, expect, it } from 'vitest';
import { Jobs } from './jobs.ts';

const admin = { userId: 'ops', isAdmin: true };
const user = { userId: 'alice', isAdmin: false };

function row(id: string, status: JobStatus, overrides: Partial<JobRow> = {}): JobRow {
  const plan: JobPlan = {
    last: { name: 'generate-image', payload: { jobId: id, ownerId: 'alice', prompt: 'a cat', hasReference: false } },
  };
  const now = new Date();
  return {
    id,
    kind: 'generate-image',
    ownerId: 'alice',
    status,
    attempts: 1,
    payload: plan,
    result: null,
    error: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
    ...overrides,
  };
}

function failedEntry(jobId: string, step: number | null = null): FailedQueueJob {
  return { jobId, queueJobId: jobId, name: 'generate-image', step, reason: 'boom', attempts: 3, failedAt: new Date(0) };
}

function setup(rows: JobRow[], steps: JobStepView[] = [], failed: FailedQueueJob[] = []) {
  const byId = new Map(rows.map((job) => [job.id, job]));
  const reset: string[] = [];
  const requeued: JobPlan[] = [];
  const jobs = new Jobs({
    jobs: {
      findById: async (id) => byId.get(id),
      findForOwner: async (id, ownerId) => {
        const job = byId.get(id);
        return job?.ownerId === ownerId ? { ...job, steps } : undefined;
      },
      resetForRetry: async (id) => {
        reset.push(id);
      },
    },
    queues: {
      failed: async (_queue, limit) => failed.slice(0, limit),
      requeue: async (plan) => {
        requeued.push(plan);
      },
    },
  });
  return { jobs, reset, requeued };
}

describe('Jobs', () => {
  it("shows a job to its owner only: another user's is not found", async () => {
    const { jobs } = setup([row('j1', 'queued')]);
    expect(await jobs.status('alice', 'j1')).toEqual({
      jobId: 'j1',
      kind: 'generate-image',
      status: 'queued',
      attempts: 1,
    });
    await expect(jobs.status('mallory', 'j1')).rejects.toMatchObject({ statusCode: 404, message: 'no job j1' });
  });

  it("shows a completed job's result and a failed one's error, and a submission's steps", async () => {
    const result = {
      assetId: 'a1',
      url: 'http://store.test/a1.jpg',
      provider: 'local' as const,
      width: 1,
      height: 1,
      aspectRatio: '1:1' as const,
      format: 'jpg' as const,
    };
    const error = { code: 'provider_timeout' as const, message: 'slow', retryable: true };
    const steps: JobStepView[] = [
      { step: 0, kind: 'promote-media', label: 'media[0] a.png', state: 'completed', attempts: 2, error },
      { step: 1, kind: 'persist-post', label: 'write post', state: 'failed', attempts: 1, error },
    ];
    const { jobs } = setup([row('done', 'completed', { result, error }), row('bad', 'failed', { error })], steps);
    const done = await jobs.status('alice', 'done');
    expect(done).toMatchObject({ status: 'completed', result });
    expect(done).not.toHaveProperty('error');
    expect(done.steps?.[0]).not.toHaveProperty('error');
    expect(done.steps?.[1]).toMatchObject({ state: 'failed', error });
    const bad = await jobs.status('alice', 'bad');
    expect(bad).toMatchObject({ status: 'failed', error });
    expect(bad).not.toHaveProperty('result');
  });

  it('lists failed queue entries and runs failed jobs again, for admins only', async () => {
    const { jobs, reset, requeued } = setup([row('j1', 'failed'), row('j2', 'active')], [], [failedEntry('j1')]);
    await expect(jobs.failed(user, 'generation')).rejects.toMatchObject({ statusCode: 403, code: 'forbidden' });
    await expect(jobs.retry(user, 'j1')).rejects.toMatchObject({ statusCode: 403 });
    await expect(jobs.retryFailed(user, 'generation')).rejects.toMatchObject({ statusCode: 403 });
    expect(await jobs.failed(admin, 'generation')).toEqual([failedEntry('j1')]);

    await expect(jobs.retry(admin, 'nope')).rejects.toMatchObject({ statusCode: 404, message: 'no job nope' });
    await expect(jobs.retry(admin, 'j2')).rejects.toMatchObject({
      statusCode: 409,
      message: 'job j2 is active, not failed',
    });
    expect(await jobs.retry(admin, 'j1')).toEqual({ jobId: 'j1', status: 'queued' });
    expect(reset).toEqual(['j1']);
    expect(requeued).toEqual([row('j1', 'failed').payload]);
  });

  it("retries a queue's failed jobs once each, skipping those no longer failed", async () => {
    const { jobs, reset } = setup(
      [row('j1', 'failed'), row('j2', 'queued'), row('j3', 'failed')],
      [],
      [failedEntry('j1', 0), failedEntry('j1', 1), failedEntry('j2'), failedEntry('j3'), failedEntry('gone')],
    );
    expect(await jobs.retryFailed(admin, 'storage')).toEqual(['j1', 'j3']);
    expect(reset).toEqual(['j1', 'j3']);
  });

  it('skips a failed generation that cannot run again (its reference image is gone) and retries the rest', async () => {
    const withReference = row('j1', 'failed', {
      payload: {
        last: { name: 'generate-image', payload: { jobId: 'j1', ownerId: 'alice', prompt: 'p', hasReference: true } },
      },
    });
    const { jobs, reset } = setup([withReference, row('j2', 'failed')], [], [failedEntry('j1'), failedEntry('j2')]);
    expect(await jobs.retryFailed(admin, 'generation')).toEqual(['j2']);
    expect(reset).toEqual(['j2']);
  });
});
