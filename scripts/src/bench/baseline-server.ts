import { randomUUID } from 'node:crypto';
import { loadConfigOrExit } from '@mediaflow/config';
import { createDb } from '@mediaflow/db';
import { createRedis, QueueRepository } from '@mediaflow/queue';
import Fastify from 'fastify';
import { BARE_USER } from './setup.ts';

/**
 * The bare Fastify baselines, each run as its own process like the gateway, with nothing around the work:
 * no auth, limits, idempotency or validation.
 * - `hello` (a): answers at once.
 * - `accept` (b): only what an accepted generation must durably do — one row in PostgreSQL, one BullMQ add.
 * - `read` (f): one job row by id, the least a poll can do.
 */
export type BaselineMode = 'hello' | 'accept' | 'read';

const mode = process.argv[2] as BaselineMode;
const config = loadConfigOrExit();
const server = Fastify();
const db = createDb(config.databaseUrl);

if (mode === 'hello') {
  server.get('/', async () => ({ hello: 'world' }));
} else if (mode === 'read') {
  server.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) =>
    db.selectFrom('jobs').selectAll().where('id', '=', request.params.id).executeTakeFirst(),
  );
} else {
  const queues = new QueueRepository({
    connection: createRedis(config.redisUrl, 'producer'),
    prefix: config.queuePrefix,
    retry: config.jobs,
  });
  server.post<{ Body: { prompt: string } }>('/', async (request, reply) => {
    const jobId = randomUUID();
    const job = {
      name: 'generate-image',
      payload: { jobId, ownerId: BARE_USER, prompt: request.body.prompt, hasReference: false },
    } as const;
    // The row holds the job's plan, as the gateway's does.
    await db
      .insertInto('jobs')
      .values({ id: jobId, kind: job.name, ownerId: BARE_USER, payload: JSON.stringify({ last: job }) })
      .execute();
    await queues.add(job);
    return reply.code(202).send({ jobId, status: 'queued', statusUrl: `/api/jobs/${jobId}` });
  });
}

await server.listen({ port: config.port, host: config.host });
