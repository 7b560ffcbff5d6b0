import { loadConfig } from '@mediaflow/config';
import { createRedis, QueueRepository } from '@mediaflow/queue';
import { makeImage, type PrivateRedis, startPrivateRedis } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/**
 * On a Redis Cluster (here one node holding every slot, which refuses cross-slot commands as a bigger
 * one does) the whole flow works: a queue's keys — and a submission's flow across queues — share one
 * slot through the braces of the queue prefix.
 */
describe('on a Redis Cluster (REDIS_CLUSTER=true)', () => {
  let redis: PrivateRedis;
  let stack: Stack;

  beforeAll(async () => {
    redis = await startPrivateRedis({ cluster: true });
    stack = await startStack({ redisUrl: redis.url, env: { REDIS_CLUSTER: 'true' } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.kill();
  });

  it('runs a generation and a post submission (a flow over two queues) to the end', async () => {
    const generation = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'a cluster' } });
    expect(generation.status).toBe(202);
    const brand = (await (await stack.request('POST', '/api/brands', { json: { name: 'C' } })).json()) as {
      id: string;
    };
    const form = new FormData();
    form.append('caption', 'clustered');
    form.append('brandId', brand.id);
    form.append('media', new Blob([await makeImage(30, 20)]), 'a.png');
    const post = await stack.request('POST', '/api/posts', { form });
    expect(post.status).toBe(202);

    for (const response of [generation, post]) {
      const { jobId } = (await response.json()) as { jobId: string };
      expect((await stack.waitForJob(jobId, 'user-1')).status).toBe('completed');
    }
    const keys = await stack.redis.worker.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    const slots = new Set(await Promise.all(keys.map((key) => stack.redis.worker.call('CLUSTER', 'KEYSLOT', key))));
    expect(slots.size).toBe(1);
  });

  it('keeps a flow under the default QUEUE_PREFIX in one slot, where a prefix without braces is refused', async () => {
    const connection = createRedis(redis.url, 'producer', true);
    const chain = (jobId: string) =>
      [
        [{ name: 'promote-media', payload: { jobId, step: 0 } }],
        { name: 'persist-post', payload: { jobId, step: 1 } },
      ] as unknown as Parameters<QueueRepository['addChain']>;
    const retry = { attempts: 1, backoffMs: 1 };
    const byDefault = new QueueRepository({ connection, prefix: loadConfig({}).queuePrefix, retry });
    const unbraced = new QueueRepository({ connection, prefix: 'mediaflow-unbraced', retry });
    try {
      await byDefault.addChain(...chain('default-prefix'));
      await expect(unbraced.addChain(...chain('no-hash-tag'))).rejects.toThrow(/CROSSSLOT|slot/i);
    } finally {
      await Promise.all([byDefault.close(), unbraced.close()]);
      connection.disconnect();
    }
  });
});
