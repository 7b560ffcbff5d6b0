import { runWorkerService } from '@mediaflow/runtime';
import { persistenceService } from './service.ts';

await runWorkerService(persistenceService);
