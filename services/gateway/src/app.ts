import './http/request.ts';
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
import type { QueueRepository, Redis } from '@mediaflow/queue';
import { createAuthHook } from './http/auth.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { removeSpooled } from './http/multipart.ts';
import { observability } from './http/observability.ts';
import { DOCS_PATH, registerApiDocs } from './http/openapi.ts';
import { QUEUE_BOARD_PATH, queueBoard } from './http/queue-board.ts';
import { createRateLimitHook } from './http/rate-limit.ts';
import { securityHeaders } from './http/security-headers.ts';
import { socketTimeouts } from './http/timeouts.ts';
import { adminRoutes } from './routes/admin.ts';
import { blogsRoutes } from './routes/blogs.ts';
import { brandsRoutes } from './routes/brands.ts';
import { generateImageRoute } from './routes/generate-image.ts';
import { healthRoutes } from './routes/health.ts';
import { jobsRoute } from './routes/jobs.ts';
import { postsRoutes } from './routes/posts.ts';
import { BlogSubmission } from './services/blog-submission.ts';
import { Blogs } from './services/blogs.ts';
import { Brands } from './services/brands.ts';
import { Generation } from './services/generation.ts';
import { Idempotency } from './services/idempotency.ts';
import { Jobs } from './services/jobs.ts';
import { MediaIntake } from './services/media-intake.ts';
import { PostSubmission } from './services/post-submission.ts';
import { Posts } from './services/posts.ts';
import { Submissions } from './services/submissions.ts';

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
    | 'nodeEnv'
    | 'trustProxy'
    | 'requestTimeoutMs'
    | 'connectionTimeoutMs'
  >;
  db: Db;
  redis: Redis;
  queues: QueueRepository;
  /** Where submissions' files go until the storage worker promotes them. */
  store: MediaStore;
  /** Serve MEDIA_DIR under /media/: on when the local disk store stands in for the cloud stores. */
  serveLocalMedia: boolean;
}

/** The gateway: every route, registered explicitly. `server.ts` listens; tests inject. */
export const app: FastifyPluginAsyncTypebox<AppDeps> = async (fastify, deps) => {
  const { config, db, queues } = deps;
  const jobs = new JobsRepository(db);
  const users = new UsersRepository(db);
  const brands = new BrandsRepository(db);
  const limits = {
    maxImageBytes: config.maxImageBytes,
    maxImagePixels: config.maxImagePixels,
    maxVideoBytes: config.maxVideoBytes,
  };

  // The use cases: plain inputs and results, no HTTP (services/).
  const idempotency = new Idempotency(
    new IdempotencyKeysRepository(db, { lifetimeMs: IDEMPOTENCY_KEY_LIFETIME_MS, staleClaimMs: STALE_CLAIM_MS }),
  );
  const submissions = new Submissions({ jobs, queues, log: fastify.log });
  const intake = new MediaIntake({ store: deps.store, assets: new GeneratedAssetsRepository(db), log: fastify.log });
  const generation = new Generation({
    jobs,
    submissions,
    maxImagePixels: config.maxImagePixels,
    maxInFlight: config.maxGenerationsInFlight,
  });
  const jobsService = new Jobs({ jobs, queues });

  fastify.setErrorHandler(errorHandler);
  fastify.setNotFoundHandler(notFoundHandler);
  // The API speaks JSON and multipart only; anything else is 415, not a confusing schema error.
  fastify.removeContentTypeParser('text/plain');
  // Before every route, so that its onRoute hook gives the docs' and the board's pages their own CSP.
  await fastify.register(securityHeaders, { docsPath: DOCS_PATH, boardPath: QUEUE_BOARD_PATH, mediaPath: '/media/' });
  await fastify.register(socketTimeouts);
  // Before every route, so that the docs see them all.
  await registerApiDocs(fastify, limits);
  await fastify.register(observability, { queues });
  await fastify.register(healthRoutes, { db, redis: deps.redis });

  if (deps.serveLocalMedia) {
    await mkdir(config.mediaDir, { recursive: true });
    await fastify.register(fastifyStatic, {
      root: config.mediaDir,
      prefix: '/media/',
      index: false,
      dotfiles: 'deny',
    });
  }
  await fastify.register(queueBoard, {
    prefix: QUEUE_BOARD_PATH,
    auth: { ...config.jwt, users },
    queues,
    // Behind a TLS terminator the request may look like http (TRUST_PROXY unset): production marks the
    // cookie Secure regardless.
    secureCookie: config.nodeEnv === 'production',
  });

  await fastify.register(
    async (api) => {
      api.addHook('onRequest', createAuthHook({ ...config.jwt, users }));
      api.addHook(
        'onRequest',
        createRateLimitHook({ redis: deps.redis, prefix: config.queuePrefix, limits: config.rateLimits }),
      );
      await api.register(generateImageRoute, { generation, idempotency, maxImageBytes: config.maxImageBytes });
      await api.register(jobsRoute, { jobs: jobsService });
      await api.register(brandsRoutes, { brands: new Brands({ brands }), idempotency });
      await api.register(adminRoutes, { jobs: jobsService, idempotency });
      // Submissions stream their files to disk as they arrive (http/multipart.ts), so multipart here is plain.
      await api.register(async (submissionsApi) => {
        await submissionsApi.register(fastifyMultipart);
        submissionsApi.addHook('onRequest', removeSpooled);
        await submissionsApi.register(postsRoutes, {
          submission: new PostSubmission({ brands, intake, submissions }),
          posts: new Posts({ brands, posts: new PostsRepository(db) }),
          idempotency,
          limits,
        });
        await submissionsApi.register(blogsRoutes, {
          submission: new BlogSubmission({ intake, submissions }),
          blogs: new Blogs({ blogs: new BlogsRepository(db) }),
          idempotency,
          limits,
        });
      });
    },
    { prefix: '/api' },
  );
};
