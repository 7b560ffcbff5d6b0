import { randomUUID } from 'node:crypto';
import type { JobPlan, JobStatus } from '@mediaflow/domain';
import { describe, expect, it } from 'vitest';
import { JobNotRequeueable, requeueJob } from './requeue.ts';

/** Records what requeueJob asks of the jobs table and the queues. */
function fakes() {
  const calls: string[] = [];
  return {
    calls,
    deps: {
      jobs: { resetForRetry: async (id: string) => void calls.push(`reset ${id}`) },
      queues: { requeue: async (plan: JobPlan) => void calls.push(`queue ${plan.last.name}`) },
    },
  };
}

const generation = (status: JobStatus, hasReference: boolean) => {
  const id = randomUUID();
  const payload: JobPlan = {
    last: { name: 'generate-image', payload: { jobId: id, ownerId: 'alice', prompt: 'p', hasReference } },
  };
  return { id, status, payload };
};

describe('requeueJob', () => {
  it('resets the job, then queues its plan again', async () => {
    const { calls, deps } = fakes();
    const job = generation('failed', false);
    await requeueJob(deps, job);
    expect(calls).toEqual([`reset ${job.id}`, 'queue generate-image']);
  });

  it('refuses an ended generation whose reference image retention deletes, touching nothing', async () => {
    const { calls, deps } = fakes();
    const job = generation('failed', true);
    const refused = requeueJob(deps, job);
    await expect(refused).rejects.toBeInstanceOf(JobNotRequeueable);
    await expect(refused).rejects.toMatchObject({ statusCode: 409, message: expect.stringMatching(/reference image/) });
    expect(calls).toEqual([]);
  });

  it('queues again an unfinished generation with a reference image: the reconciler requeues those', async () => {
    const { calls, deps } = fakes();
    const job = generation('queued', true);
    await requeueJob(deps, job);
    expect(calls).toEqual([`reset ${job.id}`, 'queue generate-image']);
  });
});
