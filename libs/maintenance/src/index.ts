export { reconcile } from './reconcile.ts';
export { JobNotRequeueable, requeueJob } from './requeue.ts';
export {
  cleanUpExpiredAssets,
  deleteEndedJobInputs,
  deleteExpiredIdempotencyKeys,
  deleteExpiredUploads,
  deleteFailedSubmissionUploads,
  sweepSpool,
} from './retention.ts';
export { type PeriodicTask, startMaintenance, startPeriodicTasks } from './schedule.ts';
export { reconcileWebhookDeliveries } from './webhook-deliveries.ts';
