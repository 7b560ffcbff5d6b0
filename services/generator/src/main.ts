import { configureImageProcessing } from '@mediaflow/providers';
import { runWorkerService } from '@mediaflow/runtime';
import { generatorService } from './service.ts';

// Dozens of generations at once each decode, crop and encode an image: one libvips thread apiece.
configureImageProcessing();
await runWorkerService(generatorService);
