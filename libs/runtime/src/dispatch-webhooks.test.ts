import type { JobRequest } from '@mediaflow/domain';
import { describe, expect, it } from 'vitest';
import { dispatchWebhooks } from './dispatch-webhooks.ts';

describe('dispatchWebhooks', () => {
  it("queues a deliver-webhook job for each delivery a job's end wrote, and only at its end", async () => {
    const added: JobRequest[] = [];
    const dispatch = dispatchWebhooks({
      queues: {
        add: async (request) => {
          added.push(request);
        },
      },
    });
    await dispatch({ ref: { jobId: 'j1' } });
    await dispatch({ ref: { jobId: 'j1', step: 0 } });
    expect(added).toEqual([]);
    await dispatch({ ref: { jobId: 'j1' }, ended: 'completed', deliveries: ['d1', 'd2'] });
    await dispatch({ ref: { jobId: 'j2', step: 1 }, ended: 'failed', deliveries: [] });
    await dispatch({ ref: { jobId: 'j3', step: 1 }, ended: 'failed', deliveries: ['d3'] });
    expect(added).toEqual([
      { name: 'deliver-webhook', payload: { jobId: 'd1' } },
      { name: 'deliver-webhook', payload: { jobId: 'd2' } },
      { name: 'deliver-webhook', payload: { jobId: 'd3' } },
    ]);
  });
});
