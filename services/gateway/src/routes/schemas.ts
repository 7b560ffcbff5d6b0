import { ASPECT_RATIOS } from '@mediaflow/domain';
import { type TStringOptions, Type } from 'typebox';

export const AspectRatioSchema = Type.Union(
  ASPECT_RATIOS.map((ratio) => Type.Literal(ratio)),
  { description: `One of ${ASPECT_RATIOS.join(', ')}.` },
);

export const JobAccepted = Type.Object(
  {
    jobId: Type.String({ format: 'uuid' }),
    status: Type.Literal('queued'),
    statusUrl: Type.String({ description: 'Poll this with GET until status is completed or failed.' }),
  },
  {
    description: 'Accepted and queued: nothing more to send.',
    examples: [
      {
        jobId: '0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
        status: 'queued',
        statusUrl: '/api/jobs/0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
      },
    ],
  },
);

const JobStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('failed'),
]);

const JobError = Type.Object({
  code: Type.String({ description: 'e.g. provider_blocked, provider_timeout, provider_quota, invalid_input' }),
  message: Type.String(),
  retryable: Type.Boolean({ description: 'True while the job will be tried again.' }),
});

export const JobStatusResponse = Type.Object(
  {
    jobId: Type.String({ format: 'uuid' }),
    kind: Type.String({ description: 'The job kind, e.g. generate-image.' }),
    status: JobStatus,
    attempts: Type.Integer({ minimum: 0, description: 'Attempts started so far.' }),
    result: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: "The job's result once completed; its shape depends on the kind.",
      }),
    ),
    error: Type.Optional(JobError),
    steps: Type.Optional(
      Type.Array(
        Type.Object({
          step: Type.Integer(),
          kind: Type.String({ description: 'promote-media, persist-post, persist-blog' }),
          label: Type.String({ description: 'What the step works on, e.g. media[2] clip.mp4.' }),
          state: JobStatus,
          attempts: Type.Integer({ minimum: 0 }),
          error: Type.Optional(JobError),
        }),
        { description: "A submission's chain: each media item's promotion, then the write." },
      ),
    ),
  },
  {
    examples: [
      {
        jobId: '0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
        kind: 'generate-image',
        status: 'completed',
        attempts: 1,
        result: {
          assetId: '5d0f4c8e-8f1e-4a51-9d2b-7f3c2b1a6e90',
          url: 'https://res.cloudinary.com/demo/image/upload/ai-generated-images/ai-generated-0b8e7e53.jpg',
          provider: 'cloudinary',
          width: 1024,
          height: 1024,
          aspectRatio: '1:1',
          format: 'jpg',
        },
      },
    ],
  },
);

/**
 * Text a person typed, to be stored: any Unicode but NUL, which PostgreSQL cannot keep in a text column
 * (refused here with 400 rather than failing later, in a worker).
 */
export const Text = (options: TStringOptions = {}) => Type.String({ ...options, pattern: '^[^\\u0000]*$' });

/** What the form readers accept, by the files' first bytes (never their names or declared types). */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
export const VIDEO_TYPES = ['video/mp4', 'video/quicktime', 'video/webm'];

/**
 * A file field of a multipart form, accepting these media types. Fastify validates the marker the form
 * reader leaves on the body for it (an object); `contentMediaType`, an annotation Ajv does not check,
 * lets the API docs show the field as the binary a client sends, with its limits (openapi.ts).
 */
export const FileField = <T = unknown>(mediaTypes: readonly string[], description: string) =>
  Type.Unsafe<T>({ type: 'object', description, contentMediaType: mediaTypes.join(', ') });
