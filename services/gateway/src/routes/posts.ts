import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PostWithMedia } from '@mediaflow/db';
import { deliveryFor } from '@mediaflow/providers';
import type { onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import type { MultipartIntake } from '../http/multipart.ts';
import { jobContext } from '../http/observability.ts';
import { HttpError } from '../services/errors.ts';
import type { Idempotency } from '../services/idempotency.ts';
import { MAX_POST_MEDIA, type PostMediaRef, type PostSubmission } from '../services/post-submission.ts';
import type { Posts } from '../services/posts.ts';
import { Page, PageQuery, pageSize } from './pagination.ts';
import { FileField, IMAGE_TYPES, JobAccepted, Text, UploadIdField, VIDEO_TYPES } from './schemas.ts';

const CAPTION_MAX_LENGTH = 5000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PostForm = Type.Object(
  {
    caption: Text({ maxLength: CAPTION_MAX_LENGTH }),
    brandId: Type.String({ format: 'uuid' }),
    scheduledAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'ISO 8601; publish at once when absent.' }),
    ),
    media: Type.Optional(
      Type.Array(
        FileField([...IMAGE_TYPES, ...VIDEO_TYPES], 'A file: JPEG, PNG, WebP or GIF image, or MP4, MOV or WebM video.'),
        { maxItems: MAX_POST_MEDIA },
      ),
    ),
    uploadId: Type.Optional(
      Type.Array(
        UploadIdField('One of your finished resumable uploads (POST /api/uploads): the last segment of its Location.'),
        { maxItems: MAX_POST_MEDIA },
      ),
    ),
    assetId: Type.Optional(
      Type.Array(Type.String({ format: 'uuid', description: 'One of your generated assets.' }), {
        maxItems: MAX_POST_MEDIA,
      }),
    ),
  },
  { additionalProperties: false },
);

const MediaItem = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.Union([Type.Literal('image'), Type.Literal('video')]),
  position: Type.Integer(),
  url: Type.String(),
  deliveryUrl: Type.String({ description: 'Automatic format and quality where the store supports it.' }),
  srcset: Type.Optional(Type.String()),
  posterUrl: Type.Optional(Type.String()),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  bytes: Type.Integer(),
  duration: Type.Union([Type.Number(), Type.Null()]),
});

const Post = Type.Object({
  id: Type.String({ format: 'uuid' }),
  brandId: Type.String({ format: 'uuid' }),
  authorId: Type.String(),
  caption: Type.String(),
  scheduledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  media: Type.Array(MediaItem),
});

export interface PostsRouteOptions {
  submission: PostSubmission;
  posts: Posts;
  idempotency: Idempotency;
  intake: MultipartIntake;
  /** MAX_UPLOADS_IN_FLIGHT: a submission's files are uploads too. */
  takeUploadSlot: onRequestHookHandler;
}

/** POST /api/posts (a submission, answered 202) and the post reads, for members of the post's brand. */
export const postsRoutes: FastifyPluginAsyncTypebox<PostsRouteOptions> = async (app, options) => {
  app.post(
    '/posts',
    {
      onRequest: options.takeUploadSlot,
      schema: {
        summary: 'Submit a social post with images and videos',
        description:
          'A post has 1 to 10 media items: files in `media`, ids of your finished resumable uploads in `uploadId` (large videos: send them with POST /api/uploads first) and ids of your generated assets in `assetId` (repeat any of them), kept in the order they come. **Send `brandId` before the files**: you must be a member of the brand, and that is checked before a byte of any file is read (404 otherwise; a file before `brandId` is 400). An upload is used once, by its uploader only (another user’s id is 404; an unfinished or used one 409). The whole request may be at most MAX_SUBMISSION_BYTES (1 GB by default; 413). Answers 202 once the files are in temporary storage; workers then move them to their permanent folder and write the post (poll `statusUrl`).',
        tags: ['posts'],
        consumes: ['multipart/form-data'],
        body: PostForm,
        response: { 202: JobAccepted, ...errorResponses(400, 401, 404, 409, 410, 413, 415, 429, 503) },
      },
      preValidation: options.intake.body(
        {
          fileFields: { media: ['image', 'video'] },
          repeatable: new Set(['media', 'uploadId', 'assetId']),
          maxFiles: MAX_POST_MEDIA,
          maxFieldBytes: 64 * 1024,
          // Not a byte of a file is read for someone who may not post for the brand.
          beforeFiles: async ({ brandId }, userId) => {
            if (typeof brandId !== 'string' || !UUID.test(brandId))
              throw new HttpError(400, 'invalid_input', 'send "brandId" (a uuid) before the files');
            await options.submission.authorize(userId, brandId);
          },
        },
        (form) => ({
          ...form.fields,
          ...(form.files.length > 0 ? { media: form.files.map(({ clientName }) => ({ clientName })) } : {}),
        }),
      ),
    },
    async (request, reply) => {
      const { caption, brandId, scheduledAt } = request.body;
      // Files, uploads and asset ids, in the order they came in the form.
      const media = (request.form?.order ?? []).flatMap((part): PostMediaRef[] => {
        if ('file' in part) return part.field === 'media' ? [{ file: part.file }] : [];
        if (part.field === 'uploadId') return [{ uploadId: part.value }];
        return part.field === 'assetId' ? [{ assetId: part.value }] : [];
      });
      const answer = await options.idempotency.run(idempotentRequest(request), (scope) =>
        options.submission.submit(
          {
            authorId: request.userId,
            brandId,
            caption,
            scheduledAt,
            media,
            context: jobContext(request),
            brandChecked: request.form?.checkedBeforeFiles === true,
          },
          scope,
        ),
      );
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/posts/:id',
    {
      schema: {
        summary: 'A post with its media, in order',
        description: "Posts are visible to their brand's members; anyone else gets 404.",
        tags: ['posts'],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Post, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => toPostResponse(await options.posts.find(request.userId, request.params.id)),
  );

  app.get(
    '/posts',
    {
      schema: {
        summary: "A brand's posts, newest first",
        tags: ['posts'],
        querystring: Type.Object(
          {
            brandId: Type.String({ format: 'uuid' }),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Page(Post),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { brandId, cursor, limit } = request.query;
      const page = await options.posts.list(request.userId, brandId, { cursor, limit: pageSize(limit) });
      return { items: page.items.map(toPostResponse), nextCursor: page.nextCursor };
    },
  );
};

function toPostResponse(post: PostWithMedia) {
  return {
    id: post.id,
    brandId: post.brandId,
    authorId: post.authorId,
    caption: post.caption,
    scheduledAt: post.scheduledAt?.toISOString() ?? null,
    createdAt: post.createdAt.toISOString(),
    media: post.media.map((item) => ({
      id: item.id,
      type: item.type,
      position: item.position,
      url: item.url,
      ...deliveryFor({ provider: item.provider, url: item.url, resourceType: item.type }),
      width: item.width,
      height: item.height,
      bytes: item.bytes,
      duration: item.duration,
    })),
  };
}
