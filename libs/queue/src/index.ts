export { CAPPED_EXPONENTIAL, cappedExponentialDelay, MAX_BACKOFF_MS, WEBHOOK_ATTEMPTS } from './backoff.ts';
export { createRedis, type Redis } from './connection.ts';
export { describeFailure } from './errors.ts';
export {
  type JobChangeListener,
  JobEventsSubscriber,
  type JobEventsSubscriberOptions,
  jobEventsChannel,
  jobEventsPublisher,
} from './job-events.ts';
export { startWorkerOps } from './ops.ts';
export {
  type FailedQueueJob,
  QUEUE_STATES,
  QueueRepository,
  type QueueState,
  type RetryPolicy,
} from './queue-repository.ts';
export { closeOnSignal } from './shutdown.ts';
export { withTimeout } from './timeout.ts';
export {
  type HandlerMap,
  type JobChange,
  type JobStateRecorder,
  type QueueWorker,
  startWorker,
  type WorkerOptions,
} from './worker.ts';
