import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { BrandsRepository, PostsRepository, PostWithMedia } from '@mediaflow/db';
import { deliveryFor, FOLDERS } from '@mediaflow/providers';
import { Type } from 'typebox';
import { errorResponses, HttpError } from '../errors.ts';
import type { MediaIntake, MediaSource } from '../media-intake.ts';
import { FileField, IMAGE_TYPES, JobAccepted, Text, VIDEO_TYPES } from '../schemas.ts';
import { originOf, type Submissions } from '../submissions.ts';
import { type FormLimits, readForm } from '../uploads.ts';
import { Page, PageQuery, pageOf, pageSize, readCursor } from './pagination.ts';

export const MAX_POST_MEDIA = 10;
const CAPTION_MAX_LENGTH = 5000;

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
  submissions: Submissions;
  intake: MediaIntake;
  brands: BrandsRepository;
  posts: PostsRepository;
  limits: Pick<FormLimits, 'maxImageBytes' | 'maxImagePixels' | 'maxVideoBytes'>;
}

/** POST /api/posts (a submission, answered 202) and the post reads, for members of the post's brand. */
export const postsRoutes: FastifyPluginAsyncTypebox<PostsRouteOptions> = async (app, options) => {
  const formLimits: FormLimits = {
    ...options.limits,
    fileFields: { media: ['image', 'video'] },
    repeatable: new Set(['media', 'assetId']),
    maxFiles: MAX_POST_MEDIA,
    maxFieldBytes: 64 * 1024,
  };

  app.post(
    '/posts',
    {
      schema: {
        summary: 'Submit a social post with images and videos',
        description:
          'A post has 1 to 10 media items: files in `media` and ids of your generated assets in `assetId` (repeat either field), kept in the order they come. You must be a member of the brand. Answers 202 once the files are in temporary storage; workers then move them to their permanent folder and write the post (poll `statusUrl`).',
        tags: ['posts'],
        consumes: ['multipart/form-data'],
        body: PostForm,
        response: { 202: JobAccepted, ...errorResponses(400, 401, 404, 413, 415, 503) },
      },
      preValidation: async (request) => {
        if (!request.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data');
        const form = await readForm(request, formLimits);
        // Not yet validated: the route's schema checks it next.
        request.body = {
          ...form.fields,
          ...(form.files.length > 0 ? { media: form.files.map(({ clientName }) => ({ clientName })) } : {}),
        } as typeof request.body;
        request.formOrder = form.order;
      },
    },
    async (request, reply) => {
      const { caption, brandId, scheduledAt, assetId = [] } = request.body;
      const files = request.spooled ?? [];
      const count = files.length + assetId.length;
      if (count < 1 || count > MAX_POST_MEDIA) {
        throw new HttpError(
          400,
          'invalid_input',
          `a post needs 1 to ${MAX_POST_MEDIA} media items (files in "media" and ids in "assetId"); got ${count}`,
        );
      }
      if (!(await options.brands.isMember(brandId, request.userId)))
        throw new HttpError(404, 'not_found', `no brand ${brandId}`);
      const assets = await options.intake.resolveAssets(assetId, request.userId);

      const uploaded = await options.intake.uploadTemporary(files);
      // The post keeps the order in which files and asset ids came in the form.
      const items: MediaSource[] = (request.formOrder ?? []).flatMap(({ field, index }) => {
        if (field === 'media') return uploaded[index] ?? [];
        if (field === 'assetId') return assets.get(assetId[index] ?? '') ?? [];
        return [];
      });
      try {
        const accepted = await options.submissions.submitMedia({
          kind: 'submit-post',
          ownerId: request.userId,
          origin: originOf(request),
          summary: { brandId, caption, scheduledAt: scheduledAt ?? null, media: items.map((item) => item.label) },
          media: items.map((item, step) => ({
            item,
            folder: FOLDERS.social,
            publicId: (jobId) => `post-${jobId}-${step}`,
            label: `media[${step}] ${item.label}`,
          })),
          persist: {
            label: 'write post',
            request: (jobId, step) => ({
              name: 'persist-post',
              payload: {
                jobId,
                step,
                authorId: request.userId,
                brandId,
                caption,
                scheduledAt: scheduledAt ?? null,
                mediaSteps: items.map((_, mediaStep) => mediaStep),
              },
            }),
          },
        });
        return reply.code(202).send(accepted);
      } catch (error) {
        await options.intake.discard(uploaded.map((item) => item.source));
        throw error;
      }
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
    async (request) => {
      const post = await options.posts.findById(request.params.id);
      if (!post || !(await options.brands.isMember(post.brandId, request.userId))) {
        throw new HttpError(404, 'not_found', `no post ${request.params.id}`);
      }
      return toPostResponse(post);
    },
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
      const { brandId, cursor, limit: limitParam } = request.query;
      const limit = pageSize(limitParam);
      if (!(await options.brands.isMember(brandId, request.userId)))
        throw new HttpError(404, 'not_found', `no brand ${brandId}`);
      return pageOf(await options.posts.listForBrand(brandId, limit, readCursor(cursor)), limit, toPostResponse);
    },
  );
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The order of a submission's files and repeatable fields, as they came. */
    formOrder?: Array<{ field: string; index: number }>;
  }
}

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
