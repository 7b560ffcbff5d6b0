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
  WebhooksRepository,
} from '@mediaflow/db';
import type { MediaStore } from '@mediaflow/providers';
import { JobEventsSubscriber, type QueueRepository, type Redis } from '@mediaflow/queue';
import { createAuthHook } from './http/auth.ts';
import { cors } from './http/cors.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { removeSpooled } from './http/multipart.ts';
import { observability } from './http/observability.ts';
import { DOCS_PATH, registerApiDocs } from './http/openapi.ts';
import { QUEUE_BOARD_PATH, queueBoard } from './http/queue-board.ts';
import { createRateLimitHook } from './http/rate-limit.ts';
import { securityHeaders } from './http/security-headers.ts';
import { socketTimeouts } from './http/timeouts.ts';
import { WEB_APP_PATH, webApp } from './http/web-app.ts';
import { adminRoutes } from './routes/admin.ts';
import { blogsRoutes } from './routes/blogs.ts';
import { brandsRoutes } from './routes/brands.ts';
import { generateImageRoute } from './routes/generate-image.ts';
import { healthRoutes } from './routes/health.ts';
import { jobEventsRoute, KEEP_ALIVE_MS } from './routes/job-events.ts';
import { jobsRoute } from './routes/jobs.ts';
import { postsRoutes } from './routes/posts.ts';
import { webhooksRoutes } from './routes/webhooks.ts';
import { BlogSubmission } from './services/blog-submission.ts';
import { Blogs } from './services/blogs.ts';
import { Brands } from './services/brands.ts';
import { EventsTokens } from './services/events-tokens.ts';
import { Generation } from './services/generation.ts';
import { Idempotency } from './services/idempotency.ts';
import { JobEvents } from './services/job-events.ts';
import { Jobs } from './services/jobs.ts';
import { MediaIntake } from './services/media-intake.ts';
import { PostSubmission } from './services/post-submission.ts';
import { Posts } from './services/posts.ts';
import { Submissions } from './services/submissions.ts';
import { Webhooks } from './services/webhooks.ts';

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
    | 'webhooks'
    | 'corsOrigins'
    | 'publicUrl'
    | 'serveWebApp'
    | 'webAppDir'
    | 'eventsTokenSecret'
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
  const eventsTokens = new EventsTokens(config.eventsTokenSecret);
  const submissions = new Submissions({
    jobs,
    queues,
    log: fastify.log,
    eventsUrl: (ownerId, jobId) => eventsTokens.eventsUrl(ownerId, jobId),
  });
  const idempotency = new Idempotency(
    new IdempotencyKeysRepository(db, { lifetimeMs: IDEMPOTENCY_KEY_LIFETIME_MS, staleClaimMs: STALE_CLAIM_MS }),
    // A replayed 202 gets an eventsUrl with a fresh token.
    { replayed: (userId, answer) => submissions.replayed(userId, answer) },
  );
  const intake = new MediaIntake({ store: deps.store, assets: new GeneratedAssetsRepository(db), log: fastify.log });
  const generation = new Generation({
    jobs,
    submissions,
    maxImagePixels: config.maxImagePixels,
    maxInFlight: config.maxGenerationsInFlight,
  });
  const jobsService = new Jobs({ jobs, queues });
  // One Redis subscriber for every event stream of this process, connected when the first one opens.
  const jobChanges = new JobEventsSubscriber({ connection: deps.redis, prefix: config.queuePrefix });
  fastify.addHook('onClose', async () => jobChanges.close());
  const jobEvents = new JobEvents({ jobs: jobsService, changes: jobChanges, log: fastify.log });

  fastify.setErrorHandler(errorHandler);
  fastify.setNotFoundHandler(notFoundHandler);
  // The API speaks JSON and multipart only; anything else is 415, not a confusing schema error.
  fastify.removeContentTypeParser('text/plain');
  // Before every route, so that its onRoute hook gives the docs' and the board's pages their own CSP.
  await fastify.register(securityHeaders, {
    docsPath: DOCS_PATH,
    boardPath: QUEUE_BOARD_PATH,
    mediaPath: '/media/',
    // The web app calls the API and shows the local store's files at PUBLIC_URL (which may not be the
    // origin the app was loaded from, e.g. localhost and 127.0.0.1).
    webApp: { path: WEB_APP_PATH, origins: [new URL(config.publicUrl).origin] },
  });
  await fastify.register(socketTimeouts);
  // Before every route and the /api hooks: preflights are answered before authentication.
  await fastify.register(cors, { origins: config.corsOrigins });
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
  if (config.serveWebApp) await fastify.register(webApp, { root: config.webAppDir });
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
      api.addHook('onRequest', createAuthHook({ ...config.jwt, users, eventsTokens }));
      api.addHook(
        'onRequest',
        createRateLimitHook({ redis: deps.redis, prefix: config.queuePrefix, limits: config.rateLimits }),
      );
      await api.register(generateImageRoute, { generation, idempotency, maxImageBytes: config.maxImageBytes });
      await api.register(jobsRoute, { jobs: jobsService });
      await api.register(jobEventsRoute, {
        events: jobEvents,
        // A quiet stream must outlive the idle-socket timeout (http/timeouts.ts).
        keepAliveMs: Math.min(KEEP_ALIVE_MS, Math.floor(config.connectionTimeoutMs / 2)),
      });
      await api.register(brandsRoutes, { brands: new Brands({ brands }), idempotency });
      await api.register(webhooksRoutes, {
        webhooks: new Webhooks({ webhooks: new WebhooksRepository(db), policy: config.webhooks }),
        idempotency,
      });
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
