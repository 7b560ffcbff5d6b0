import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Db, pingDatabase } from '@mediaflow/db';
import type { Redis } from '@mediaflow/queue';
import { checkReadiness } from '@mediaflow/telemetry';
import { Type } from 'typebox';

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down')]);
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({ redis: Check, postgres: Check }),
});

/** /healthz: the process is alive. /readyz: it can reach Redis and PostgreSQL, so it can take work. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db; redis: Redis }> = async (app, options) => {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({
      status: 'ok' as const,
    }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: Redis and PostgreSQL reachable',
        tags: ['ops'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = await checkReadiness({
        redis: () => options.redis.ping(),
        postgres: () => pingDatabase(options.db),
      });
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'unavailable',
        checks: { redis: checks.redis ?? 'down', postgres: checks.postgres ?? 'down' },
      });
    },
  );
};
