import { type Config, loadConfigOrExit } from '@mediaflow/config';
import { createDb, type Db, JobsRepository, pingDatabase } from '@mediaflow/db';
import { SERVICE_QUEUES, type WorkerServiceName } from '@mediaflow/domain';
import { createLogger, type Logger } from '@mediaflow/logger';
import {
  closeOnSignal,
  createRedis,
  type HandlerMap,
  type JobStateRecorder,
  jobEventsPublisher,
  QueueRepository,
  type QueueWorker,
  type Redis,
  startWorker,
  startWorkerOps,
} from '@mediaflow/queue';
import { startTracing } from '@mediaflow/telemetry';
import { dispatchWebhooks } from './dispatch-webhooks.ts';

/** What every worker service is built from: its configuration and its clients. */
export interface WorkerClients {
  config: Config;
  db: Db;
  logger: Logger;
  /** For work that queues jobs (the reconciler): the same queues the gateway adds to. */
  queues: QueueRepository;
}

type QueueOf<S extends WorkerServiceName> = (typeof SERVICE_QUEUES)[S];

/** One worker service: its queue's handlers and how to build what they need. The rest is common. */
export interface WorkerService<S extends WorkerServiceName, Deps> {
  service: S;
  handlers: HandlerMap<QueueOf<S>, Deps>;
  concurrency: (config: Config) => number;
  /** Jobs started per minute across every process of the service (a provider's rate), when capped. */
  maxPerMinute?: (config: Config) => number | undefined;
  /** In-flight jobs get this long to finish after SIGTERM. */
  shutdownDeadlineMs: number;
  buildDeps: (clients: WorkerClients) => Deps;
  /** The start line's message, saying which providers it runs on. */
  describe?: (deps: Deps, clients: WorkerClients) => string;
  /**
   * Where the attempts of its jobs are recorded, when not in the jobs table (JobsRepository): the notifier's
   * deliveries are recorded in webhook_deliveries. Such a service's changes are not jobs' changes: they are
   * neither announced to the jobs' event streams nor end a job.
   */
  recorder?: (clients: WorkerClients) => JobStateRecorder;
  /** Duties this process runs besides its queue; answers a function that stops them. */
  background?: (deps: Deps, clients: WorkerClients) => () => Promise<void>;
}

/** A running worker service, as tests run it in-process and `runWorkerService` runs it as a process. */
export interface RunningWorkerService {
  worker: QueueWorker;
  /** Stops taking jobs, lets running ones finish (all of them unless `force`), and stops its duties. */
  close(force?: boolean): Promise<void>;
}

/**
 * Starts a worker service on clients the caller owns (and closes). Tests leave its background duties
 * off (`background: false`) and run them by hand, so that a round never races the test's own.
 */
export function startWorkerService<S extends WorkerServiceName, Deps>(
  definition: WorkerService<S, Deps>,
  clients: WorkerClients & { connection: Redis },
  options: { background?: boolean } = {},
): RunningWorkerService {
  const deps = definition.buildDeps(clients);
  const { config, logger } = clients;
  const concurrency = definition.concurrency(config);
  // Every committed change of a job's state, told to the gateways' event streams (job-events.ts).
  const announceChange = jobEventsPublisher(clients.connection, config.queuePrefix);
  // A job's end queues the webhook deliveries its commit wrote (dispatch-webhooks.ts).
  const sendWebhooks = dispatchWebhooks({ queues: clients.queues });
  logger.info(
    { concurrency },
    `${definition.service} worker starting${definition.describe ? `: ${definition.describe(deps, clients)}` : ''}`,
  );
  const worker = startWorker({
    queue: SERVICE_QUEUES[definition.service],
    handlers: definition.handlers,
    deps,
    connection: clients.connection,
    prefix: config.queuePrefix,
    concurrency,
    lockMs: config.jobs.lockMs,
    recorder: definition.recorder?.(clients) ?? new JobsRepository(clients.db),
    logger,
    maxPerMinute: definition.maxPerMinute?.(config),
    onChange: definition.recorder ? undefined : (change) => Promise.all([announceChange(change), sendWebhooks(change)]),
  });
  const stopBackground = options.background === false ? undefined : definition.background?.(deps, clients);
  return {
    worker,
    close: async (force) => {
      await stopBackground?.();
      await worker.close(force);
    },
  };
}

/**
 * A worker service's whole process: configuration from the environment, logger, tracing, PostgreSQL,
 * Redis, the worker, its ops port (/healthz, /readyz, /metrics), and a graceful stop on SIGTERM.
 * Every worker's main.ts is this one call.
 */
export async function runWorkerService<S extends WorkerServiceName, Deps>(
  definition: WorkerService<S, Deps>,
): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ service: definition.service, level: config.logLevel });
  const stopTracing = startTracing(definition.service, config);
  const db = createDb(config.databaseUrl);
  const connection = createRedis(config.redisUrl, 'worker', config.redisCluster);
  const producerConnection = createRedis(config.redisUrl, 'producer', config.redisCluster);
  const queues = new QueueRepository({
    connection: producerConnection,
    prefix: config.queuePrefix,
    retry: config.jobs,
  });
  const running = startWorkerService(definition, { config, db, logger, queues, connection });
  const stopOps = await startWorkerOps({
    queue: SERVICE_QUEUES[definition.service],
    queues,
    config,
    connection,
    pingDatabase: () => pingDatabase(db),
  });

  closeOnSignal({
    logger,
    what: `${definition.service} worker`,
    deadlineMs: definition.shutdownDeadlineMs,
    close: async () => {
      await running.close();
      await stopOps();
      await stopTracing();
      await queues.close();
      producerConnection.disconnect();
      connection.disconnect();
      await db.destroy();
    },
  });
}
