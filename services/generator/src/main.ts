import { runWorkerService } from '@mediaflow/runtime';
import { generatorService } from './service.ts';

await runWorkerService(generatorService);
