import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { BlogRow } from '@mediaflow/db';
import type { onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import type { MultipartIntake } from '../http/multipart.ts';
import { jobContext } from '../http/observability.ts';
import type { BlogSubmission } from '../services/blog-submission.ts';
import { BLOG_EXCERPT_LENGTH, type BlogSummaryRow, type Blogs } from '../services/blogs.ts';
import type { Idempotency } from '../services/idempotency.ts';
import { Page, PageQuery, pageSize } from './pagination.ts';
import { FileField, IMAGE_TYPES, JobAccepted, Text, UploadIdField } from './schemas.ts';

const CONTENT_MAX_LENGTH = 200_000;

const BlogForm = Type.Object(
  {
    title: Text({ minLength: 1, maxLength: 200 }),
    content: Text({ maxLength: CONTENT_MAX_LENGTH, description: 'Markdown, stored as given.' }),
    imageAlt: Type.Optional(Text({ maxLength: 1000 })),
    banner: Type.Optional(FileField(IMAGE_TYPES, 'A file: JPEG, PNG, WebP or GIF image.')),
    bannerAssetId: Type.Optional(Type.String({ format: 'uuid', description: 'Or one of your generated assets.' })),
    bannerUploadId: Type.Optional(UploadIdField('Or one of your finished resumable uploads of an image.')),
    featured: Type.Optional(FileField(IMAGE_TYPES, 'A file: JPEG, PNG, WebP or GIF image.')),
    featuredAssetId: Type.Optional(Type.String({ format: 'uuid', description: 'Or one of your generated assets.' })),
    featuredUploadId: Type.Optional(UploadIdField('Or one of your finished resumable uploads of an image.')),
  },
  { additionalProperties: false },
);

const BlogFields = {
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  banner: Type.Union([Type.String(), Type.Null()]),
  image: Type.Union([Type.String(), Type.Null()]),
  imageAlt: Type.Union([Type.String(), Type.Null()]),
  authorId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
};

const Blog = Type.Object({ ...BlogFields, content: Type.String({ description: 'Markdown, as submitted.' }) });

/** A blog in a list: an excerpt, so that a page stays small however long the blogs are. */
const BlogSummary = Type.Object({
  ...BlogFields,
  excerpt: Type.String({
    description: `The first ${BLOG_EXCERPT_LENGTH} characters of the blog's content (all of it when shorter); \`GET /api/blogs/{id}\` answers the whole content.`,
  }),
});

export interface BlogsRouteOptions {
  submission: BlogSubmission;
  blogs: Blogs;
  idempotency: Idempotency;
  intake: MultipartIntake;
  /** MAX_UPLOADS_IN_FLIGHT: a submission's files are uploads too. */
  takeUploadSlot: onRequestHookHandler;
}

/** POST /api/blogs (a submission, answered 202) and the blog reads, for their author. */
export const blogsRoutes: FastifyPluginAsyncTypebox<BlogsRouteOptions> = async (app, options) => {
  app.post(
    '/blogs',
    {
      onRequest: options.takeUploadSlot,
      schema: {
        summary: 'Submit a blog with a banner and a featured image',
        description:
          'The banner and the featured image are optional, each sent as a file (`banner`, `featured`), as one of your finished resumable uploads (`bannerUploadId`, `featuredUploadId`; POST /api/uploads) or as one of your generated assets (`bannerAssetId`, `featuredAssetId`): one of the three. An upload is used once, by its uploader only (another user’s id is 404; an unfinished or used one 409). The whole request may be at most MAX_SUBMISSION_BYTES (413). Answers 202 once the files are in temporary storage; workers then move them to their permanent folders and write the blog (poll `statusUrl`).',
        tags: ['blogs'],
        consumes: ['multipart/form-data'],
        body: BlogForm,
        response: { 202: JobAccepted, ...errorResponses(400, 401, 404, 409, 410, 413, 415, 429, 503) },
      },
      preValidation: options.intake.body(
        {
          fileFields: { banner: ['image'], featured: ['image'] },
          repeatable: new Set(),
          maxFiles: 2,
          // Content may be 200 000 characters of up to 4 bytes each.
          maxFieldBytes: CONTENT_MAX_LENGTH * 4,
        },
        (form) => ({
          ...form.fields,
          ...Object.fromEntries(form.files.map((file) => [file.field, { clientName: file.clientName }])),
        }),
      ),
    },
    async (request, reply) => {
      const { title, content, imageAlt, bannerAssetId, featuredAssetId, bannerUploadId, featuredUploadId } =
        request.body;
      const files = request.form?.files ?? [];
      const fileOf = (field: string) => files.find((file) => file.field === field);
      const answer = await options.idempotency.run(idempotentRequest(request), (scope) =>
        options.submission.submit(
          {
            authorId: request.userId,
            title,
            content,
            imageAlt,
            banner: { file: fileOf('banner'), assetId: bannerAssetId, uploadId: bannerUploadId },
            featured: { file: fileOf('featured'), assetId: featuredAssetId, uploadId: featuredUploadId },
            context: jobContext(request),
          },
          scope,
        ),
      );
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/blogs/:id',
    {
      schema: {
        summary: 'One of your blogs',
        description: 'Blogs are visible to their author only; anyone else gets 404.',
        tags: ['blogs'],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Blog, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => toBlogResponse(await options.blogs.find(request.userId, request.params.id)),
  );

  app.get(
    '/blogs',
    {
      schema: {
        summary: 'Your blogs, newest first',
        description: `Each blog with an \`excerpt\` (its first ${BLOG_EXCERPT_LENGTH} characters) instead of its \`content\`.`,
        tags: ['blogs'],
        querystring: Type.Object(
          {
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Page(BlogSummary),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const page = await options.blogs.list(request.userId, { cursor, limit: pageSize(limit) });
      return { items: page.items.map(toBlogSummaryResponse), nextCursor: page.nextCursor };
    },
  );
};

function toBlogResponse(blog: BlogRow) {
  return { ...blogFields(blog), content: blog.content };
}

function toBlogSummaryResponse(blog: BlogSummaryRow) {
  return { ...blogFields(blog), excerpt: blog.excerpt };
}

function blogFields(blog: BlogSummaryRow | BlogRow) {
  return {
    id: blog.id,
    title: blog.title,
    banner: blog.banner,
    image: blog.image,
    imageAlt: blog.imageAlt,
    authorId: blog.authorId,
    createdAt: blog.createdAt.toISOString(),
  };
}
