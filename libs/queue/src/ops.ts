import type { Config } from '@mediaflow/config';
import { observeQueues, startOpsServer } from '@mediaflow/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from './connection.ts';
import type { QueueName } from './contracts.ts';

/**
 * A worker's /healthz, /readyz (Redis and PostgreSQL answer) and /metrics on its METRICS_PORT, its
 * queue's depth among the metrics. Answers a function that closes it.
 */
export async function startWorkerOps(options: {
  queue: QueueName;
  config: Pick<Config, 'queuePrefix' | 'metricsPort' | 'host'>;
  connection: Redis;
  pingDatabase: () => Promise<unknown>;
}): Promise<() => Promise<void>> {
  const queue = new Queue(options.queue, { connection: options.connection, prefix: options.config.queuePrefix });
  observeQueues([queue]);
  const server = await startOpsServer({
    port: options.config.metricsPort,
    host: options.config.host,
    checks: { redis: () => options.connection.ping(), postgres: options.pingDatabase },
  });
  return async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await queue.close();
  };
}
