import type { JobRequest } from '@mediaflow/domain';
import { describe, expect, it } from 'vitest';
import { dispatchWebhooks } from './dispatch-webhooks.ts';

describe('dispatchWebhooks', () => {
  it('queues a deliver-webhook job for each pending delivery of a job that has just ended, and only then', async () => {
    const added: JobRequest[] = [];
    const asked: string[] = [];
    const dispatch = dispatchWebhooks({
      deliveries: {
        pendingForJob: async (jobId) => {
          asked.push(jobId);
          return jobId === 'j1' ? ['d1', 'd2'] : [];
        },
      },
      queues: {
        add: async (request) => {
          added.push(request);
        },
      },
    });
    await dispatch({ ref: { jobId: 'j1' } });
    await dispatch({ ref: { jobId: 'j1', step: 0 } });
    expect(asked).toEqual([]);
    await dispatch({ ref: { jobId: 'j1' }, ended: 'completed' });
    await dispatch({ ref: { jobId: 'j2', step: 1 }, ended: 'failed' });
    expect(asked).toEqual(['j1', 'j2']);
    expect(added).toEqual([
      { name: 'deliver-webhook', payload: { jobId: 'd1' } },
      { name: 'deliver-webhook', payload: { jobId: 'd2' } },
    ]);
  });
});
