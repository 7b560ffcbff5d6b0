import { mkdir } from 'node:fs/promises';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '@mediaflow/config';
import { type Db, JobsRepository, UsersRepository } from '@mediaflow/db';
import type { JobProducer, Redis } from '@mediaflow/queue';
import { createAuthHook } from './auth.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { generateImageRoute } from './routes/generate-image.ts';
import { healthRoutes } from './routes/health.ts';
import { jobsRoute } from './routes/jobs.ts';
import { Submissions } from './submissions.ts';

export interface AppDeps {
  config: Pick<Config, 'jwt' | 'maxImageBytes' | 'mediaDir'>;
  db: Db;
  redis: Redis;
  producer: JobProducer;
  /** Serve MEDIA_DIR under /media/: on when the local disk store stands in for the cloud stores. */
  serveLocalMedia: boolean;
}

/** The gateway: every route, registered explicitly. `server.ts` listens; tests inject. */
export const app: FastifyPluginAsyncTypebox<AppDeps> = async (fastify, deps) => {
  const jobs = new JobsRepository(deps.db);
  const users = new UsersRepository(deps.db);
  const submissions = new Submissions({ jobs, producer: deps.producer, logger: fastify.log });

  fastify.setErrorHandler(errorHandler);
  fastify.setNotFoundHandler(notFoundHandler);
  // The API speaks JSON and multipart only; anything else is 415, not a confusing schema error.
  fastify.removeContentTypeParser('text/plain');
  // Fields and files land on request.body so the route schemas validate multipart and JSON alike;
  // each route sets its own limits (config.multipartOptions).
  await fastify.register(fastifyMultipart, {
    attachFieldsToBody: 'keyValues',
    limits: { files: 0, fields: 20, fieldSize: 64 * 1024, parts: 30 },
  });

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

  await fastify.register(
    async (api) => {
      api.addHook('onRequest', createAuthHook({ secret: deps.config.jwt.secret, users }));
      await api.register(generateImageRoute, { submissions, maxImageBytes: deps.config.maxImageBytes });
      await api.register(jobsRoute, { jobs });
    },
    { prefix: '/api' },
  );
};
