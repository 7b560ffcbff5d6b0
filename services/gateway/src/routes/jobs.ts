import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { snapshotId } from '../services/job-events.ts';
import type { Jobs } from '../services/jobs.ts';
import { type JobStatusBody, JobStatusResponse } from './schemas.ts';

/** While a job runs, pollers are asked to wait this long between polls. */
const POLL_AFTER_S = 2;

/**
 * GET /api/jobs/:jobId: a job's state, from PostgreSQL. Another user's job is not found, never shown.
 * Polling is cheap: an ETag of the answer, 304 to If-None-Match while nothing changed, and a
 * Retry-After hint while the job is queued or running.
 */
export const jobsRoute: FastifyPluginAsyncTypebox<{ jobs: Jobs }> = async (app, options) => {
  app.get(
    '/jobs/:jobId',
    {
      schema: {
        summary: "Poll a job's status",
        description:
          "Poll until `status` is `completed` (with `result`) or `failed` (with `error`). A submission's answer lists its steps. Another user's job is 404. Every answer carries an `ETag`: send it back as `If-None-Match` and the answer is 304 with no body while nothing changed; while the job is queued or running, `Retry-After` says how many seconds to wait before the next poll.",
        tags: ['jobs'],
        params: Type.Object({ jobId: Type.String({ format: 'uuid' }) }),
        headers: Type.Object({
          'if-none-match': Type.Optional(
            Type.String({ description: 'The ETag of an earlier answer: 304 while the job has not changed' }),
          ),
        }),
        response: {
          200: JobStatusResponse,
          304: Type.Null({ description: 'Not modified since the ETag given in If-None-Match' }),
          ...errorResponses(400, 401, 404),
        },
      },
      // The ETag is the hash of the answer as serialized, so the answer is serialized once; the job's event
      // stream gives each event the same id (job-events.ts).
      onSend: async (request, reply, payload) => {
        if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
        const etag = `"${snapshotId(payload)}"`;
        reply.header('etag', etag);
        if (!request.headers['if-none-match']?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag))
          return payload;
        reply.code(304).removeHeader('content-type');
        return '';
      },
    },
    async (request, reply) => {
      const job = await options.jobs.status(request.userId, request.params.jobId);
      reply.header('cache-control', 'private, no-cache');
      if (job.status === 'queued' || job.status === 'active') reply.header('retry-after', String(POLL_AFTER_S));
      // A job's result is of its kind (each kind's handler writes its own), which the view's type does not
      // tie together: JobStatusBody does.
      return job as JobStatusBody;
    },
  );
};
