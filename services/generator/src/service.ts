import { GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import { buildImageGenerator, buildMediaStore } from '@mediaflow/providers';
import type { WorkerService } from '@mediaflow/runtime';
import type { GeneratorDeps } from './generate-image.ts';
import { handlers } from './handlers.ts';

/** The generation worker: Gemini (or the local generator without a key) into the store's temporary folder. */
export const generatorService: WorkerService<'generator', GeneratorDeps> = {
  service: 'generator',
  handlers,
  concurrency: (config) => config.generatorConcurrency,
  maxPerMinute: (config) => (config.gemini ? config.geminiMaxRpm : undefined),
  // An image can take a minute.
  shutdownDeadlineMs: 90_000,
  buildDeps: ({ config, db, logger }) => ({
    jobs: new JobsRepository(db),
    assets: new GeneratedAssetsRepository(db),
    generator: buildImageGenerator(config),
    store: buildMediaStore(config, logger),
    tempAssetTtlMs: config.tempAssetTtlMs,
  }),
  describe: (deps, { config }) =>
    `${config.gemini ? 'Gemini' : 'LOCAL generator (no GEMINI_API_KEY)'} ${deps.generator.model}, store ${deps.store.name}`,
};
