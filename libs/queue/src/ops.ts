import type { Config } from '@mediaflow/config';
import type { QueueName } from '@mediaflow/domain';
import { observeQueues, startOpsServer } from '@mediaflow/telemetry';
import type { Redis } from './connection.ts';
import type { QueueRepository } from './queue-repository.ts';

/**
 * A worker's /healthz, /readyz (Redis and PostgreSQL answer) and /metrics on its METRICS_PORT, its
 * queue's depth among the metrics. Answers a function that closes it.
 */
export async function startWorkerOps(options: {
  queue: QueueName;
  queues: QueueRepository;
  config: Pick<Config, 'metricsPort' | 'host'>;
  connection: Redis;
  pingDatabase: () => Promise<unknown>;
}): Promise<() => Promise<void>> {
  observeQueues([options.queue], (name) => options.queues.counts(name));
  const server = await startOpsServer({
    port: options.config.metricsPort,
    host: options.config.host,
    checks: { redis: () => options.connection.ping(), postgres: options.pingDatabase },
  });
  return async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
}
