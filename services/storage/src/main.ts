import { runWorkerService } from '@mediaflow/runtime';
import { storageService } from './service.ts';

await runWorkerService(storageService);
