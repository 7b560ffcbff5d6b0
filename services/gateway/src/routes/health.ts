import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Db, pingDatabase } from '@mediaflow/db';
import type { Redis } from '@mediaflow/queue';
import { Type } from 'typebox';

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down')]);
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({ redis: Check, postgres: Check }),
});
const CHECK_TIMEOUT_MS = 2_000;

/** /healthz: the process is alive. /readyz: it can reach Redis and PostgreSQL, so it can take work. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db; redis: Redis }> = async (app, options) => {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({
      status: 'ok' as const,
    }),
  );

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: Redis and PostgreSQL reachable', response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const [redis, postgres] = await Promise.all([
        probe(() => options.redis.ping()),
        probe(() => pingDatabase(options.db)),
      ]);
      const ready = redis === 'ok' && postgres === 'ok';
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'unavailable', checks: { redis, postgres } });
    },
  );
};

async function probe(check: () => Promise<unknown>): Promise<'ok' | 'down'> {
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref()),
    ]);
    return 'ok';
  } catch {
    return 'down';
  }
}
