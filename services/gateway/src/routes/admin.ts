import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobsRepository } from '@mediaflow/db';
import { type JobPlan, type JobProducer, QUEUE_NAMES, type QueueName, requeue } from '@mediaflow/queue';
import { Type } from 'typebox';
import { requireAdmin } from '../auth.ts';
import { errorResponses, HttpError } from '../errors.ts';

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

/** Ops routes: failed jobs per queue, and running them again. Admin role only; everyone else gets 403. */
export const adminRoutes: FastifyPluginAsyncTypebox<{ jobs: JobsRepository; producer: JobProducer }> = async (
  app,
  options,
) => {
  app.addHook('preHandler', requireAdmin);

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
      const failed = await options.producer.queue(request.query.queue as QueueName).getFailed(0, 199);
      return {
        items: failed.map((job) => ({
          jobId: String(job.data.jobId),
          queueJobId: String(job.id),
          name: job.name,
          step: typeof job.data.step === 'number' ? job.data.step : null,
          reason: job.failedReason ?? '',
          attempts: job.attemptsMade,
          failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        })),
      };
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
      const job = await options.jobs.findById(request.params.id);
      if (!job) throw new HttpError(404, 'not_found', `no job ${request.params.id}`);
      if (job.status !== 'failed') throw new HttpError(409, 'conflict', `job ${job.id} is ${job.status}, not failed`);
      await requeue(options, job.id, job.payload as JobPlan);
      return reply.code(202).send({ jobId: request.params.id, status: 'queued' as const });
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
      const failed = await options.producer.queue(request.query.queue as QueueName).getFailed(0, 999);
      const jobIds = [...new Set(failed.map((job) => String(job.data.jobId)))];
      const retried: string[] = [];
      for (const jobId of jobIds) {
        const job = await options.jobs.findById(jobId);
        if (job?.status !== 'failed') continue;
        await requeue(options, job.id, job.payload as JobPlan);
        retried.push(jobId);
      }
      return reply.code(202).send({ retried });
    },
  );
};
