import { createHash } from 'node:crypto';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobInput, JobsRepository } from '@mediaflow/db';
import { inspectImage } from '@mediaflow/providers';
import { REFERENCE_IMAGE_INPUT } from '@mediaflow/queue';
import { Type } from 'typebox';
import { errorResponses, HttpError } from '../errors.ts';
import { AspectRatioSchema, FileField, JobAccepted, Text } from '../schemas.ts';
import { originOf, type Submissions } from '../submissions.ts';

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
  submissions: Submissions;
  jobs: JobsRepository;
  maxImageBytes: number;
  maxImagePixels: number;
  /** Generations one user may have queued or running at once. */
  maxInFlight: number;
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
      if (prompt.trim().length === 0) throw new HttpError(400, 'invalid_input', 'prompt must not be blank');
      const inputs: JobInput[] = [];
      if (referenceImage !== undefined) {
        if (!Buffer.isBuffer(referenceImage)) {
          throw new HttpError(
            400,
            'invalid_input',
            'referenceImage must be sent as a file in a multipart/form-data request',
          );
        }
        const image = await inspectImage(referenceImage);
        if (!image) {
          throw new HttpError(415, 'unsupported_media_type', 'referenceImage must be a JPEG, PNG or WebP image');
        }
        if (image.width * image.height > options.maxImagePixels) {
          throw new HttpError(
            413,
            'payload_too_large',
            `referenceImage is over ${options.maxImagePixels} pixels; send a smaller one`,
          );
        }
        inputs.push({
          name: REFERENCE_IMAGE_INPUT,
          contentType: `image/${image.format}`,
          sha256: createHash('sha256').update(referenceImage).digest('hex'),
          data: referenceImage,
        });
      }
      const inFlight = await options.jobs.countUnfinished(request.userId, 'generate-image');
      if (inFlight >= options.maxInFlight) {
        throw new HttpError(
          429,
          'rate_limited',
          `you have ${inFlight} generations queued or running; wait for one to finish`,
          {
            retryAfterS: 5,
          },
        );
      }
      const accepted = await options.submissions.submit(
        'generate-image',
        request.userId,
        { ownerId: request.userId, prompt, ...(aspectRatio ? { aspectRatio } : {}), hasReference: inputs.length > 0 },
        inputs,
        originOf(request),
      );
      return reply.code(202).send(accepted);
    },
  );
};
