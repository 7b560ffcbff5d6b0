export {
  type RunningWorkerService,
  runWorkerService,
  startWorkerService,
  type WorkerClients,
  type WorkerService,
} from './worker-service.ts';
