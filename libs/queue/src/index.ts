export type { Worker } from 'bullmq';
export { createRedis, type Redis } from './connection.ts';
export * from './contracts.ts';
export { describeFailure, type JobErrorCode, PermanentJobError } from './errors.ts';
export { enqueuePlan, type JobPlan, requeue } from './plan.ts';
export { JobProducer, type RetryPolicy } from './producer.ts';
export { closeOnSignal } from './shutdown.ts';
export { type HandlerMap, type JobStateRecorder, startWorker, type WorkerOptions } from './worker.ts';
