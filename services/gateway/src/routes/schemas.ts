import { ASPECT_RATIOS, type JobKind, type JobName, STORE_PROVIDERS } from '@mediaflow/domain';
import { type Static, type TSchema, type TStringOptions, Type } from 'typebox';

/** A union of string literals, typed as one (TypeBox types a Union of an array it is given as never). */
const Literals = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>(
    Type.Union(
      values.map((value) => Type.Literal(value)),
      options,
    ),
  );

export const AspectRatioSchema = Literals(ASPECT_RATIOS, { description: `One of ${ASPECT_RATIOS.join(', ')}.` });

export const JobAccepted = Type.Object(
  {
    jobId: Type.String({ format: 'uuid' }),
    status: Type.Literal('queued'),
    statusUrl: Type.String({ description: 'Poll this with GET until status is completed or failed.' }),
    eventsUrl: Type.String({
      description:
        "The job's live event stream (text/event-stream), with a token valid 15 minutes for this job's events only: a browser's `new EventSource(eventsUrl)` needs no header. Keep it as private as a password while it lasts.",
    }),
  },
  {
    description: 'Accepted and queued: nothing more to send.',
    examples: [
      {
        jobId: '0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
        status: 'queued',
        statusUrl: '/api/jobs/0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
        eventsUrl: '/api/jobs/0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11/events?token=eyJhbGciOiJIUzI1NiJ9.…',
      },
    ],
  },
);

const JobStatus = Type.Union(
  [Type.Literal('queued'), Type.Literal('active'), Type.Literal('completed'), Type.Literal('failed')],
  { description: 'queued, then active while a worker runs it; completed or failed at the end.' },
);

const JobError = Type.Object(
  {
    code: Type.String({ description: 'e.g. provider_blocked, provider_timeout, provider_quota, invalid_input' }),
    message: Type.String(),
    retryable: Type.Boolean({ description: 'True while the job will be tried again.' }),
  },
  { 'x-component': 'JobError' },
);

/** The jobs a submission's steps run, in order: each media item's promotion, then the write. */
const STEP_KINDS = ['promote-media', 'persist-post', 'persist-blog'] as const satisfies readonly JobName[];

const JobSteps = Type.Array(
  Type.Object({
    step: Type.Integer(),
    kind: Literals(STEP_KINDS),
    label: Type.String({ description: 'What the step works on, e.g. media[2] clip.mp4.' }),
    state: JobStatus,
    attempts: Type.Integer({ minimum: 0 }),
    error: Type.Optional(JobError),
  }),
  { description: "A submission's chain: each media item's promotion, then the write." },
);

/*
 * A job's status has one shape per kind, and so does its result. Each shape is marked `x-component` with
 * its name: the API docs (http/openapi.ts) hoist them into components.schemas and refer to them there, so
 * that generated clients get one named type per kind; the marker means nothing to Fastify's serializer.
 */

export const GenerateImageResultSchema = Type.Object(
  {
    assetId: Type.String({ description: 'The generated asset: pass it as assetId to a post or a blog.' }),
    url: Type.String({ description: 'Where the image is served (the CDN, or /media/ for the local store).' }),
    provider: Literals(STORE_PROVIDERS),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
    aspectRatio: AspectRatioSchema,
    format: Type.Literal('jpg'),
  },
  { 'x-component': 'GenerateImageResult', description: 'A completed generation: the stored image.' },
);

export const SubmitPostResultSchema = Type.Object(
  {
    postId: Type.String(),
    media: Type.Array(
      Type.Object({
        id: Type.String(),
        url: Type.String(),
        type: Type.Union([Type.Literal('image'), Type.Literal('video')]),
      }),
      { description: "The post's media in its order, at their permanent URLs." },
    ),
  },
  { 'x-component': 'SubmitPostResult', description: 'A completed post submission: the post and its media.' },
);

export const SubmitBlogResultSchema = Type.Object(
  {
    blogId: Type.String(),
    banner: Type.Union([Type.String(), Type.Null()], { description: "The banner's URL, or null without one." }),
    image: Type.Union([Type.String(), Type.Null()], {
      description: "The featured image's URL, or null without one.",
    }),
  },
  { 'x-component': 'SubmitBlogResult', description: 'A completed blog submission: the blog and its images.' },
);

/** What every kind's status has: its `kind`, and its own result. */
const jobFields = <K extends JobKind, R extends TSchema>(kind: K, result: R) => ({
  jobId: Type.String({ format: 'uuid' }),
  kind: Type.Literal(kind),
  status: JobStatus,
  attempts: Type.Integer({ minimum: 0, description: 'Attempts started so far.' }),
  result: Type.Optional(result),
  error: Type.Optional(JobError),
});

export const GenerateImageJobStatus = Type.Object(jobFields('generate-image', GenerateImageResultSchema), {
  'x-component': 'GenerateImageJobStatus',
});
export const SubmitPostJobStatus = Type.Object(
  { ...jobFields('submit-post', SubmitPostResultSchema), steps: Type.Optional(JobSteps) },
  { 'x-component': 'SubmitPostJobStatus' },
);
export const SubmitBlogJobStatus = Type.Object(
  { ...jobFields('submit-blog', SubmitBlogResultSchema), steps: Type.Optional(JobSteps) },
  { 'x-component': 'SubmitBlogJobStatus' },
);

const JOB_STATUS_SHAPES = [GenerateImageJobStatus, SubmitPostJobStatus, SubmitBlogJobStatus];
export type JobStatusBody = Static<(typeof JOB_STATUS_SHAPES)[number]>;

/**
 * GET /api/jobs/:id's body (and what the job's events and webhooks carry): one of the shapes above,
 * told apart by `kind`. TypeBox has no oneOf of its own, hence Unsafe; the serializer picks the one
 * member whose `kind` (and the rest) matches.
 */
export const JobStatusResponse = Type.Unsafe<JobStatusBody>({
  oneOf: JOB_STATUS_SHAPES,
  discriminator: { propertyName: 'kind' },
  'x-component': 'JobStatus',
  description: "A job's status; its `kind` says which shape it has, and so what its `result` is.",
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
});

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

/** A resumable upload's id (POST /api/uploads): the last segment of its Location. */
export const UploadIdField = (description: string) => Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description });
