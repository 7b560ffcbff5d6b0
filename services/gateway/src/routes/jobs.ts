import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobsRepository } from '@mediaflow/db';
import { Type } from 'typebox';
import { errorResponses, HttpError } from '../errors.ts';
import { JobStatusResponse } from '../schemas.ts';

/** GET /api/jobs/:jobId: a job's state, from PostgreSQL. Another user's job is not found, never shown. */
export const jobsRoute: FastifyPluginAsyncTypebox<{ jobs: JobsRepository }> = async (app, options) => {
  app.get(
    '/jobs/:jobId',
    {
      schema: {
        summary: "Poll a job's status",
        params: Type.Object({ jobId: Type.String({ format: 'uuid' }) }),
        response: { 200: JobStatusResponse, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const job = await options.jobs.findForOwner(request.params.jobId, request.userId);
      if (!job) throw new HttpError(404, 'not_found', `no job ${request.params.jobId}`);
      const steps = await options.jobs.findSteps(job.id);
      return {
        jobId: job.id,
        kind: job.kind,
        status: job.status,
        attempts: job.attempts,
        ...(job.status === 'completed' ? { result: job.result as Record<string, unknown> } : {}),
        ...(job.error && job.status !== 'completed' ? { error: job.error } : {}),
        ...(steps.length > 0
          ? {
              steps: steps.map((step) => ({
                step: step.step,
                kind: step.kind,
                label: step.label,
                state: step.state,
                attempts: step.attempts,
                ...(step.error && step.state !== 'completed' ? { error: step.error } : {}),
              })),
            }
          : {}),
      };
    },
  );
};
