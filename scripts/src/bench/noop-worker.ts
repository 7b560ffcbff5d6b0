import { loadConfigOrExit } from '@mediaflow/config';
import type { QueueName } from '@mediaflow/domain';
import { createRedis } from '@mediaflow/queue';
import { Worker } from 'bullmq';

/**
 * Baselines (c) and (d): a bare BullMQ worker that does nothing with its jobs, run as its own process
 * like the product's workers, with the concurrency the product's worker of that queue is configured with.
 */
const queue = process.argv[2] as QueueName;
const config = loadConfigOrExit();
const concurrency = {
  generation: config.generatorConcurrency,
  storage: config.storageConcurrency,
  persistence: config.persistenceConcurrency,
  webhooks: config.notifierConcurrency,
}[queue];

new Worker(queue, async () => {}, {
  connection: createRedis(config.redisUrl, 'worker'),
  prefix: config.queuePrefix,
  concurrency,
});
