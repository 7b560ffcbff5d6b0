import { mkdir } from 'node:fs/promises';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '@mediaflow/config';
import {
  BlogsRepository,
  BrandsRepository,
  type Db,
  GeneratedAssetsRepository,
  IdempotencyKeysRepository,
  JobsRepository,
  PostsRepository,
  UsersRepository,
} from '@mediaflow/db';
import type { MediaStore } from '@mediaflow/providers';
import { type JobProducer, QUEUE_NAMES, type Redis } from '@mediaflow/queue';
import { createAuthHook } from './auth.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { createIdempotencyHooks } from './idempotency.ts';
import { MediaIntake } from './media-intake.ts';
import { observability } from './observability.ts';
import { registerApiDocs } from './openapi.ts';
import { QUEUE_BOARD_PATH, queueBoard } from './queue-board.ts';
import { createRateLimitHook } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import { blogsRoutes } from './routes/blogs.ts';
import { brandsRoutes } from './routes/brands.ts';
import { generateImageRoute } from './routes/generate-image.ts';
import { healthRoutes } from './routes/health.ts';
import { jobsRoute } from './routes/jobs.ts';
import { postsRoutes } from './routes/posts.ts';
import { Submissions } from './submissions.ts';
import { removeSpooled } from './uploads.ts';

const IDEMPOTENCY_KEY_LIFETIME_MS = 24 * 3_600_000;
/** A claimed key whose request never answered (its gateway died) is free again after this. */
const STALE_CLAIM_MS = 5 * 60_000;

export interface AppDeps {
  config: Pick<
    Config,
    | 'jwt'
    | 'maxImageBytes'
    | 'maxImagePixels'
    | 'maxVideoBytes'
    | 'mediaDir'
    | 'rateLimits'
    | 'maxGenerationsInFlight'
    | 'queuePrefix'
  >;
  db: Db;
  redis: Redis;
  producer: JobProducer;
  /** Where submissions' files go until the storage worker promotes them. */
  store: MediaStore;
  /** Serve MEDIA_DIR under /media/: on when the local disk store stands in for the cloud stores. */
  serveLocalMedia: boolean;
}

/** The gateway: every route, registered explicitly. `server.ts` listens; tests inject. */
export const app: FastifyPluginAsyncTypebox<AppDeps> = async (fastify, deps) => {
  const jobs = new JobsRepository(deps.db);
  const users = new UsersRepository(deps.db);
  const brands = new BrandsRepository(deps.db);
  const submissions = new Submissions({ jobs, producer: deps.producer, logger: fastify.log });
  const intake = new MediaIntake({
    store: deps.store,
    assets: new GeneratedAssetsRepository(deps.db),
    log: fastify.log,
  });
  const limits = {
    maxImageBytes: deps.config.maxImageBytes,
    maxImagePixels: deps.config.maxImagePixels,
    maxVideoBytes: deps.config.maxVideoBytes,
  };

  fastify.setErrorHandler(errorHandler);
  fastify.setNotFoundHandler(notFoundHandler);
  // The API speaks JSON and multipart only; anything else is 415, not a confusing schema error.
  fastify.removeContentTypeParser('text/plain');
  // Before every route, so that the docs see them all.
  await registerApiDocs(fastify, limits);
  await fastify.register(observability, { queues: QUEUE_NAMES.map((name) => deps.producer.queue(name)) });
  await fastify.register(healthRoutes, { db: deps.db, redis: deps.redis });

  if (deps.serveLocalMedia) {
    await mkdir(deps.config.mediaDir, { recursive: true });
    await fastify.register(fastifyStatic, {
      root: deps.config.mediaDir,
      prefix: '/media/',
      index: false,
      dotfiles: 'deny',
    });
  }
  await fastify.register(queueBoard, {
    prefix: QUEUE_BOARD_PATH,
    auth: { ...deps.config.jwt, users },
    producer: deps.producer,
  });

  await fastify.register(
    async (api) => {
      api.addHook('onRequest', createAuthHook({ ...deps.config.jwt, users }));
      api.addHook(
        'onRequest',
        createRateLimitHook({ redis: deps.redis, prefix: deps.config.queuePrefix, limits: deps.config.rateLimits }),
      );
      const idempotency = createIdempotencyHooks(
        new IdempotencyKeysRepository(deps.db, {
          lifetimeMs: IDEMPOTENCY_KEY_LIFETIME_MS,
          staleClaimMs: STALE_CLAIM_MS,
        }),
      );
      api.addHook('preHandler', idempotency.claim);
      api.addHook('onSend', idempotency.record);
      await api.register(generateImageRoute, {
        submissions,
        jobs,
        maxImageBytes: deps.config.maxImageBytes,
        maxImagePixels: deps.config.maxImagePixels,
        maxInFlight: deps.config.maxGenerationsInFlight,
      });
      await api.register(jobsRoute, { jobs });
      await api.register(brandsRoutes, { brands });
      await api.register(adminRoutes, { jobs, producer: deps.producer });
      // Submissions stream their files to disk as they arrive (uploads.ts), so multipart here is plain.
      await api.register(async (submissionsApi) => {
        await submissionsApi.register(fastifyMultipart);
        submissionsApi.addHook('onResponse', removeSpooled);
        await submissionsApi.register(postsRoutes, {
          submissions,
          intake,
          brands,
          posts: new PostsRepository(deps.db),
          limits,
        });
        await submissionsApi.register(blogsRoutes, {
          submissions,
          intake,
          blogs: new BlogsRepository(deps.db),
          limits,
        });
      });
    },
    { prefix: '/api' },
  );
};
