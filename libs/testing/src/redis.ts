import { randomBytes } from 'node:crypto';
import { createRedis, type Redis } from '@mediaflow/queue';
import { inject } from 'vitest';

export interface TestRedis {
  url: string;
  /** This test file's own queue prefix: its queues never meet another file's. */
  prefix: string;
  /** A producer-style connection (fails fast). */
  producer: Redis;
  /** A worker-style connection (BullMQ workers need maxRetriesPerRequest: null). */
  worker: Redis;
  cleanup(): Promise<void>;
}

export function createTestRedis(url: string = inject('redisUrl'), cluster = false): TestRedis {
  // Braces: a hash tag, as in the default prefix, so that one file's keys share a Redis Cluster slot.
  const prefix = `{${inject('runId')}-${randomBytes(4).toString('hex')}}`;
  const producer = createRedis(url, 'producer', cluster);
  const worker = createRedis(url, 'worker', cluster);
  return {
    url,
    prefix,
    producer,
    worker,
    cleanup: async () => {
      const keys = await worker.keys(`${prefix}:*`);
      if (keys.length > 0) await worker.del(...keys);
      producer.disconnect();
      worker.disconnect();
    },
  };
}
