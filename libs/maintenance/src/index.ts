export { cleanUpExpiredAssets } from './expired-assets.ts';
export { reconcile } from './reconcile.ts';
export { requeueJob } from './requeue.ts';
export { type PeriodicTask, startMaintenance, startPeriodicTasks } from './schedule.ts';
export { reconcileWebhookDeliveries } from './webhook-deliveries.ts';
