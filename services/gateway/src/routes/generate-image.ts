import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import { jobContext } from '../http/observability.ts';
import type { Generation } from '../services/generation.ts';
import type { Idempotency } from '../services/idempotency.ts';
import { AspectRatioSchema, FileField, JobAccepted, Text } from './schemas.ts';

export const PROMPT_MAX_LENGTH = 2000;

const GenerateImageBody = Type.Object(
  {
    prompt: Text({ minLength: 1, maxLength: PROMPT_MAX_LENGTH, description: 'What to draw.' }),
    aspectRatio: Type.Optional(AspectRatioSchema),
    referenceImage: Type.Optional(
      FileField<Buffer>(
        ['image/jpeg', 'image/png', 'image/webp'],
        'multipart/form-data only: a JPEG, PNG or WebP file. The output takes its aspect ratio unless aspectRatio is given.',
      ),
    ),
  },
  { additionalProperties: false, examples: [{ prompt: 'a lighthouse on a cliff at dusk', aspectRatio: '16:9' }] },
);

export interface GenerateImageRouteOptions {
  generation: Generation;
  idempotency: Idempotency;
  maxImageBytes: number;
}

/** POST /api/ai-agent/generate-image: accepts a prompt (and a reference image) and answers 202 with a job id. */
export const generateImageRoute: FastifyPluginAsyncTypebox<GenerateImageRouteOptions> = async (app, options) => {
  // Fields and the (small) reference image land on request.body, so the schema validates multipart
  // and JSON alike; the limits are this route's (config.multipartOptions below).
  await app.register(fastifyMultipart, {
    attachFieldsToBody: 'keyValues',
    limits: { files: 0, fields: 20, fieldSize: 64 * 1024, parts: 30 },
  });
  app.post(
    '/ai-agent/generate-image',
    {
      schema: {
        summary: 'Generate an image from a prompt',
        description:
          'Send `multipart/form-data` to include a reference image, or `application/json`. Answers 202 at once; a generator worker draws the image and stores it, and `statusUrl` then shows the result: `{assetId, url, provider, width, height, aspectRatio, format: "jpg"}`. Each user may have at most MAX_GENERATIONS_IN_FLIGHT generations queued or running (429 beyond that).',
        tags: ['images'],
        consumes: ['multipart/form-data', 'application/json'],
        body: GenerateImageBody,
        response: { 202: JobAccepted, ...errorResponses(400, 401, 413, 415, 422, 429, 503) },
      },
      config: {
        rateLimit: 'generate',
        multipartOptions: { limits: { files: 1, fileSize: options.maxImageBytes, fields: 5, fieldSize: 64 * 1024 } },
      },
    },
    async (request, reply) => {
      const { prompt, aspectRatio, referenceImage } = request.body;
      // A generation writes nothing but its job row: that commit claims the key (Idempotency.run).
      const answer = await options.idempotency.run(
        idempotentRequest(request),
        (scope) =>
          options.generation.submit(
            { ownerId: request.userId, prompt, aspectRatio, referenceImage, context: jobContext(request) },
            scope,
          ),
        { claimInCommit: true },
      );
      return sendAnswer(reply, answer);
    },
  );
};
