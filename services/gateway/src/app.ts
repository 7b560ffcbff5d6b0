import './http/request.ts';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '@mediaflow/config';
import {
  BlogsRepository,
  BrandsRepository,
  type Db,
  GeneratedAssetsRepository,
  IDEMPOTENCY_KEY_TIMES,
  IdempotencyKeysRepository,
  JobsRepository,
  PostsRepository,
  UploadsRepository,
  UsersRepository,
  WebhooksRepository,
} from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import { deleteExpiredUploads, startPeriodicTasks, sweepSpool } from '@mediaflow/maintenance';
import type { MediaStore } from '@mediaflow/providers';
import { JobEventsSubscriber, type QueueRepository, type Redis } from '@mediaflow/queue';
import { createAuthHook } from './http/auth.ts';
import { cors } from './http/cors.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { MultipartIntake } from './http/multipart.ts';
import { observability } from './http/observability.ts';
import { DOCS_PATH, registerApiDocs } from './http/openapi.ts';
import { QUEUE_BOARD_PATH, queueBoard } from './http/queue-board.ts';
import { createRateLimitHook } from './http/rate-limit.ts';
import { securityHeaders } from './http/security-headers.ts';
import { socketTimeouts } from './http/timeouts.ts';
import { TusUploads } from './http/tus.ts';
import { createUploadSlots } from './http/upload-slots.ts';
import { WEB_APP_PATH, webApp } from './http/web-app.ts';
import { adminRoutes } from './routes/admin.ts';
import { blogsRoutes } from './routes/blogs.ts';
import { brandsRoutes } from './routes/brands.ts';
import { generateImageRoute } from './routes/generate-image.ts';
import { healthRoutes } from './routes/health.ts';
import { jobEventsRoute, KEEP_ALIVE_MS } from './routes/job-events.ts';
import { jobsRoute } from './routes/jobs.ts';
import { postsRoutes } from './routes/posts.ts';
import { uploadsRoutes } from './routes/uploads.ts';
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
import { SpoolBudget } from './services/spool-budget.ts';
import { Submissions } from './services/submissions.ts';
import { Uploads } from './services/uploads.ts';
import { Webhooks } from './services/webhooks.ts';

export interface AppDeps {
  config: Pick<
    Config,
    | 'jwt'
    | 'maxImageBytes'
    | 'maxImagePixels'
    | 'maxVideoBytes'
    | 'maxSubmissionBytes'
    | 'maxUploadsInFlight'
    | 'spoolDir'
    | 'spoolMaxBytes'
    | 'uploadTtlMs'
    | 'cleanupIntervalMs'
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
    new IdempotencyKeysRepository(db, IDEMPOTENCY_KEY_TIMES),
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
  // The spool: each request's files, and resumable uploads until a submission uses them.
  const budget = new SpoolBudget(config.spoolMaxBytes);
  const multipart = new MultipartIntake({
    dir: path.join(config.spoolDir, 'requests'),
    limits,
    maxRequestBytes: config.maxSubmissionBytes,
    budget,
  });
  const tus = new TusUploads({ directory: config.spoolDir, ttlMs: config.uploadTtlMs });
  const uploads = new Uploads({
    uploads: new UploadsRepository(db),
    files: tus.files,
    budget,
    limits,
    ttlMs: config.uploadTtlMs,
    log: fastify.log,
  });
  tus.attach(uploads, Math.max(limits.maxImageBytes, limits.maxVideoBytes));
  const takeUploadSlot = createUploadSlots({
    redis: deps.redis,
    prefix: config.queuePrefix,
    max: config.maxUploadsInFlight,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  fastify.addHook('onReady', async () => {
    // What a previous run left: request files of requests long over, and uploads still to be used.
    await sweepSpool({ dir: multipart.dir, olderThanMs: config.requestTimeoutMs });
    for (const { id, size } of await tus.held()) budget.restore(id, size);
  });
  // Retention of this process's spool (libs/maintenance): every replica sweeps its own disk.
  const stopSpoolRetention = startPeriodicTasks(db, fastify.log as Logger, [
    {
      name: 'retention-spool-files',
      everyMs: config.cleanupIntervalMs,
      local: true,
      run: () => sweepSpool({ dir: multipart.dir, olderThanMs: config.requestTimeoutMs }),
    },
    {
      name: 'retention-uploads',
      everyMs: config.cleanupIntervalMs,
      local: true,
      run: () => deleteExpiredUploads({ uploads, tus }),
    },
  ]);
  fastify.addHook('onClose', async () => stopSpoolRetention());
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
      await api.register(uploadsRoutes, { tus, uploads, takeUploadSlot, ...limits });
      // Submissions stream their files to disk as they arrive (http/multipart.ts), so multipart here is plain.
      await api.register(async (submissionsApi) => {
        await submissionsApi.register(fastifyMultipart);
        submissionsApi.addHook('onRequest', multipart.release);
        submissionsApi.addHook('onRequestAbort', multipart.abort);
        await submissionsApi.register(postsRoutes, {
          submission: new PostSubmission({ brands, intake, submissions, uploads, log: fastify.log }),
          posts: new Posts({ brands, posts: new PostsRepository(db) }),
          idempotency,
          intake: multipart,
          takeUploadSlot,
        });
        await submissionsApi.register(blogsRoutes, {
          submission: new BlogSubmission({ intake, submissions, uploads, log: fastify.log }),
          blogs: new Blogs({ blogs: new BlogsRepository(db) }),
          idempotency,
          intake: multipart,
          takeUploadSlot,
        });
      });
    },
    { prefix: '/api' },
  );
};
