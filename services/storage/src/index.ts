export { handlers } from './handlers.ts';
export { cleanUpExpiredAssets, reconcile, startPeriodicTasks } from './maintenance.ts';
export { promoteMedia, type StorageDeps } from './promote-media.ts';
export { startMaintenance, startStorageWorker } from './worker.ts';
