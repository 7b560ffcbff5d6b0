import { runWorkerService } from '@mediaflow/runtime';
import { notifierService } from './service.ts';

await runWorkerService(notifierService);
