import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { QUEUE_NAMES } from '@mediaflow/domain';
import { Type } from 'typebox';
import { callerOf } from '../http/auth.ts';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import { requireAdmin } from '../services/caller.ts';
import type { Idempotency } from '../services/idempotency.ts';
import type { Jobs } from '../services/jobs.ts';

const QueueQuery = Type.Object(
  {
    queue: Type.Union(
      QUEUE_NAMES.map((name) => Type.Literal(name)),
      { description: `One of ${QUEUE_NAMES.join(', ')}.` },
    ),
  },
  { additionalProperties: false },
);

const FailedJob = Type.Object({
  jobId: Type.String({ description: 'The job (submission or generation) it belongs to; retry by this id.' }),
  queueJobId: Type.String(),
  name: Type.String(),
  step: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.String(),
  attempts: Type.Integer(),
  failedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/**
 * Ops routes: failed jobs per queue, and running them again. Admin role only; everyone else gets 403.
 *
 * The role is checked in onRequest, right after the /api auth hook and before anything reads the
 * request: a caller without it hears 403 (401 without a token) whatever its query or body, which is
 * never parsed or validated, and nothing is written for it, not even an Idempotency-Key claim. The jobs
 * service checks again, for any other caller it may get.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<{ jobs: Jobs; idempotency: Idempotency }> = async (
  app,
  options,
) => {
  app.addHook('onRequest', async (request) => requireAdmin(callerOf(request)));

  app.get(
    '/admin/jobs/failed',
    {
      schema: {
        summary: "A queue's failed jobs, newest first, with their reasons",
        description: 'Admin role only. At most 200.',
        tags: ['admin'],
        querystring: QueueQuery,
        response: { 200: Type.Object({ items: Type.Array(FailedJob) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const failed = await options.jobs.failed(callerOf(request), request.query.queue);
      return { items: failed.map((job) => ({ ...job, failedAt: job.failedAt?.toISOString() ?? null })) };
    },
  );

  app.post(
    '/admin/jobs/:id/retry',
    {
      schema: {
        summary: 'Run a failed job (or submission) again',
        description: 'Admin role only. Queues the job again from its plan in PostgreSQL; 409 unless it has failed.',
        tags: ['admin'],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: {
          202: Type.Object({ jobId: Type.String(), status: Type.Literal('queued') }),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const answer = await options.idempotency.run(idempotentRequest(request), async () => ({
        status: 202,
        body: await options.jobs.retry(callerOf(request), request.params.id),
      }));
      return sendAnswer(reply, answer);
    },
  );

  app.post(
    '/admin/jobs/retry',
    {
      schema: {
        summary: 'Run every failed job of a queue again',
        description: 'Admin role only. Answers with the ids of the jobs queued again.',
        tags: ['admin'],
        querystring: QueueQuery,
        response: { 202: Type.Object({ retried: Type.Array(Type.String()) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const answer = await options.idempotency.run(idempotentRequest(request), async () => ({
        status: 202,
        body: { retried: await options.jobs.retryFailed(callerOf(request), request.query.queue) },
      }));
      return sendAnswer(reply, answer);
    },
  );
};
