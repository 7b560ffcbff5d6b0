import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { BlogRow, BlogsRepository } from '@mediaflow/db';
import { FOLDERS, type PermanentFolder } from '@mediaflow/providers';
import { Type } from 'typebox';
import { errorResponses, HttpError } from '../errors.ts';
import type { MediaIntake, MediaSource } from '../media-intake.ts';
import { FileField, IMAGE_TYPES, JobAccepted, Text } from '../schemas.ts';
import { originOf, type Submissions } from '../submissions.ts';
import { type FormLimits, readForm } from '../uploads.ts';
import { Page, PageQuery, pageOf, pageSize, readCursor } from './pagination.ts';

const CONTENT_MAX_LENGTH = 200_000;

const BlogForm = Type.Object(
  {
    title: Text({ minLength: 1, maxLength: 200 }),
    content: Text({ maxLength: CONTENT_MAX_LENGTH, description: 'Markdown, stored as given.' }),
    imageAlt: Type.Optional(Text({ maxLength: 1000 })),
    banner: Type.Optional(FileField(IMAGE_TYPES, 'A file: JPEG, PNG, WebP or GIF image.')),
    bannerAssetId: Type.Optional(Type.String({ format: 'uuid', description: 'Or one of your generated assets.' })),
    featured: Type.Optional(FileField(IMAGE_TYPES, 'A file: JPEG, PNG, WebP or GIF image.')),
    featuredAssetId: Type.Optional(Type.String({ format: 'uuid', description: 'Or one of your generated assets.' })),
  },
  { additionalProperties: false },
);

const Blog = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  content: Type.String(),
  banner: Type.Union([Type.String(), Type.Null()]),
  image: Type.Union([Type.String(), Type.Null()]),
  imageAlt: Type.Union([Type.String(), Type.Null()]),
  authorId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

export interface BlogsRouteOptions {
  submissions: Submissions;
  intake: MediaIntake;
  blogs: BlogsRepository;
  limits: Pick<FormLimits, 'maxImageBytes' | 'maxImagePixels' | 'maxVideoBytes'>;
}

/** POST /api/blogs (a submission, answered 202) and the blog reads, for their author. */
export const blogsRoutes: FastifyPluginAsyncTypebox<BlogsRouteOptions> = async (app, options) => {
  const formLimits: FormLimits = {
    ...options.limits,
    fileFields: { banner: ['image'], featured: ['image'] },
    repeatable: new Set(),
    maxFiles: 2,
    // Content may be 200 000 characters of up to 4 bytes each.
    maxFieldBytes: CONTENT_MAX_LENGTH * 4,
  };

  app.post(
    '/blogs',
    {
      schema: {
        summary: 'Submit a blog with a banner and a featured image',
        description:
          'The banner and the featured image are optional, each sent as a file (`banner`, `featured`) or as one of your generated assets (`bannerAssetId`, `featuredAssetId`), not both. Answers 202 once the files are in temporary storage; workers then move them to their permanent folders and write the blog (poll `statusUrl`).',
        tags: ['blogs'],
        consumes: ['multipart/form-data'],
        body: BlogForm,
        response: { 202: JobAccepted, ...errorResponses(400, 401, 404, 413, 415, 503) },
      },
      preValidation: async (request) => {
        if (!request.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data');
        const form = await readForm(request, formLimits);
        // Not yet validated: the route's schema checks it next.
        request.body = {
          ...form.fields,
          ...Object.fromEntries(form.files.map((file) => [file.field, { clientName: file.clientName }])),
        } as typeof request.body;
      },
    },
    async (request, reply) => {
      const { title, content, imageAlt, bannerAssetId, featuredAssetId } = request.body;
      const files = request.spooled ?? [];
      const bannerFile = files.find((file) => file.field === 'banner');
      const featuredFile = files.find((file) => file.field === 'featured');
      if (bannerFile && bannerAssetId)
        throw new HttpError(400, 'invalid_input', 'send the banner as a file or as bannerAssetId, not both');
      if (featuredFile && featuredAssetId)
        throw new HttpError(400, 'invalid_input', 'send the featured image as a file or as featuredAssetId, not both');
      const assets = await options.intake.resolveAssets(
        [bannerAssetId, featuredAssetId].filter((id): id is string => id !== undefined),
        request.userId,
      );

      const toUpload = [bannerFile, featuredFile].filter((file) => file !== undefined);
      const uploaded = await options.intake.uploadTemporary(toUpload);
      const fromFile = (file: typeof bannerFile) => (file ? uploaded[toUpload.indexOf(file)] : undefined);
      const images: Array<{ role: 'banner' | 'featured'; folder: PermanentFolder; item: MediaSource }> = [];
      const banner = fromFile(bannerFile) ?? (bannerAssetId ? assets.get(bannerAssetId) : undefined);
      const featured = fromFile(featuredFile) ?? (featuredAssetId ? assets.get(featuredAssetId) : undefined);
      if (banner) images.push({ role: 'banner', folder: FOLDERS.blogBanners, item: banner });
      if (featured) images.push({ role: 'featured', folder: FOLDERS.blogFeatured, item: featured });
      const stepOf = (role: 'banner' | 'featured') => {
        const step = images.findIndex((image) => image.role === role);
        return step < 0 ? null : step;
      };

      try {
        const accepted = await options.submissions.submitMedia({
          kind: 'submit-blog',
          ownerId: request.userId,
          origin: originOf(request),
          summary: { title, images: images.map((image) => `${image.role}: ${image.item.label}`) },
          media: images.map(({ role, folder, item }) => ({
            item,
            folder,
            publicId: (jobId) => `${role}-${jobId}`,
            label: `${role} ${item.label}`,
          })),
          persist: {
            label: 'write blog',
            request: (jobId, step) => ({
              name: 'persist-blog',
              payload: {
                jobId,
                step,
                authorId: request.userId,
                title,
                content,
                imageAlt: imageAlt ?? null,
                bannerStep: stepOf('banner'),
                featuredStep: stepOf('featured'),
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
    async (request) => {
      const blog = await options.blogs.findById(request.params.id);
      if (!blog || blog.authorId !== request.userId)
        throw new HttpError(404, 'not_found', `no blog ${request.params.id}`);
      return toBlogResponse(blog);
    },
  );

  app.get(
    '/blogs',
    {
      schema: {
        summary: 'Your blogs, newest first',
        tags: ['blogs'],
        querystring: Type.Object(
          {
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Page(Blog),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { cursor, limit: limitParam } = request.query;
      const limit = pageSize(limitParam);
      return pageOf(
        await options.blogs.listForAuthor(request.userId, limit, readCursor(cursor)),
        limit,
        toBlogResponse,
      );
    },
  );
};

function toBlogResponse(blog: BlogRow) {
  return {
    id: blog.id,
    title: blog.title,
    content: blog.content,
    banner: blog.banner,
    image: blog.image,
    imageAlt: blog.imageAlt,
    authorId: blog.authorId,
    createdAt: blog.createdAt.toISOString(),
  };
}
