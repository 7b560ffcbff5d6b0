import createFetchClient, { type Client } from 'openapi-fetch';
import { MediaflowError } from './errors.ts';
import type { paths } from './schema.ts';
import type { AspectRatio, BlogPage, Brand, BrandList, JobAccepted, JobStatus, PostPage } from './types.ts';
import { type UploadOptions, type UploadSource, uploadFile } from './upload.ts';
import { type WatchOptions, watchJob } from './watch.ts';

export interface ClientOptions {
  /** Where the gateway is, e.g. https://api.example or http://localhost:3000; '' for this page's origin. */
  baseUrl: string;
  /** The bearer token (a JWT), or how to get the current one (it is asked for before every request). */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Another fetch (a test's, a polyfill); the global one otherwise. */
  fetch?: (request: Request) => Promise<Response>;
}

/** Per call: the Idempotency-Key to send (the same key and request within 24 h is answered once), and an abort signal. */
export interface CallOptions {
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface PageOptions {
  /** The previous page's `nextCursor`. */
  cursor?: string;
  limit?: number;
  signal?: AbortSignal;
}

/**
 * A media item of a submission: a file sent with it, one of your finished resumable uploads by its id
 * (what `upload` resolves with), or one of your generated images by its id (a generation's `result.assetId`).
 */
export type MediaInput = Blob | { uploadId: string } | { assetId: string };

/** A route's multipart fields, as the OpenAPI description names them. */
type FormField<Route extends '/api/posts' | '/api/blogs'> =
  keyof paths[Route]['post']['requestBody']['content']['multipart/form-data'];
/** The field each kind of media item goes in. */
type MediaFields<Field> = { file: Field; uploadId: Field; assetId: Field };

const POST_MEDIA: MediaFields<FormField<'/api/posts'>> = { file: 'media', uploadId: 'uploadId', assetId: 'assetId' };
const BLOG_IMAGES = {
  banner: { file: 'banner', uploadId: 'bannerUploadId', assetId: 'bannerAssetId' },
  featured: { file: 'featured', uploadId: 'featuredUploadId', assetId: 'featuredAssetId' },
} satisfies Record<string, MediaFields<FormField<'/api/blogs'>>>;

export interface GenerateImageInput {
  prompt: string;
  /** JPEG, PNG or WebP; its aspect ratio is used unless `aspectRatio` is given. */
  referenceImage?: Blob;
  aspectRatio?: AspectRatio;
}

export interface SubmitPostInput {
  brandId: string;
  caption: string;
  /** ISO 8601 date-time; publish at once when absent. */
  scheduledAt?: string | Date;
  /**
   * Images and videos, in the post's order: files, uploads and generated images mixed as you like (large
   * videos as uploads: `{ uploadId: await client.upload(video) }`).
   */
  media: MediaInput[];
}

export interface SubmitBlogInput {
  title: string;
  content: string;
  imageAlt?: string;
  /** Images only; a file, an upload or a generated image each. */
  banner?: MediaInput;
  featured?: MediaInput;
}

export type MediaflowClient = ReturnType<typeof createClient>;

/**
 * A typed client of the mediaflow API, for browsers and Node (anything with fetch and streams). `api` is
 * the openapi-fetch client over every route, typed from the API's OpenAPI description; the helpers cover
 * the common calls, answer the body, and throw MediaflowError ({status, code, message}) for error answers.
 */
export function createClient(options: ClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const authorization = async () => {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    return token ? `Bearer ${token}` : undefined;
  };
  const api: Client<paths> = createFetchClient<paths>({ baseUrl, fetch });
  api.use({
    async onRequest({ request }) {
      const value = await authorization();
      if (value && !request.headers.has('authorization')) request.headers.set('authorization', value);
      return request;
    },
  });

  /** Multipart bodies go as they are; openapi-fetch lets the runtime set their content type. */
  const multipart = (form: FormData) => ({ body: form as never, bodySerializer: (body: unknown) => body as FormData });
  /** A POST's options: its Idempotency-Key and signal. */
  const call = ({ idempotencyKey, signal }: CallOptions = {}) => ({
    ...(idempotencyKey === undefined ? {} : { params: { header: { 'Idempotency-Key': idempotencyKey } } }),
    ...(signal ? { signal } : {}),
  });
  const signalOf = (options: { signal?: AbortSignal } = {}) => (options.signal ? { signal: options.signal } : {});
  const pageQuery = ({ cursor, limit }: PageOptions) => ({
    ...(cursor === undefined ? {} : { cursor }),
    ...(limit === undefined ? {} : { limit: String(limit) }),
  });

  return {
    api,

    /** Queues a generation from a prompt, and a reference image when given (sent as multipart). */
    async generateImage(input: GenerateImageInput, options?: CallOptions): Promise<JobAccepted> {
      const { prompt, referenceImage, aspectRatio } = input;
      if (referenceImage === undefined) {
        const body = { prompt, ...(aspectRatio ? { aspectRatio } : {}) };
        return unwrap(api.POST('/api/ai-agent/generate-image', { body, ...call(options) }));
      }
      const form = new FormData();
      form.append('prompt', prompt);
      if (aspectRatio) form.append('aspectRatio', aspectRatio);
      appendFile(form, 'referenceImage', referenceImage, 'reference');
      return unwrap(api.POST('/api/ai-agent/generate-image', { ...multipart(form), ...call(options) }));
    },

    /** Queues a post for a brand you are a member of: its media are promoted to permanent storage, then it is written. */
    async submitPost(input: SubmitPostInput, options?: CallOptions): Promise<JobAccepted> {
      const form = new FormData();
      form.append('brandId', input.brandId);
      form.append('caption', input.caption);
      if (input.scheduledAt !== undefined) form.append('scheduledAt', new Date(input.scheduledAt).toISOString());
      // Files and ids in one order: the post keeps the order in which they come, whatever their field.
      input.media.forEach((item, index) => {
        appendMedia(form, POST_MEDIA, item, `media-${index}`);
      });
      return unwrap(api.POST('/api/posts', { ...multipart(form), ...call(options) }));
    },

    /** Queues a blog, with a banner and a featured image when given (files or generated images). */
    async submitBlog(input: SubmitBlogInput, options?: CallOptions): Promise<JobAccepted> {
      const form = new FormData();
      form.append('title', input.title);
      form.append('content', input.content);
      if (input.imageAlt !== undefined) form.append('imageAlt', input.imageAlt);
      for (const role of ['banner', 'featured'] as const) {
        const item = input[role];
        if (item) appendMedia(form, BLOG_IMAGES[role], item, role);
      }
      return unwrap(api.POST('/api/blogs', { ...multipart(form), ...call(options) }));
    },

    async createBrand(name: string, options?: CallOptions): Promise<Brand> {
      return unwrap(api.POST('/api/brands', { body: { name }, ...call(options) }));
    },

    /** The brands you are a member of. */
    async listBrands(options?: { signal?: AbortSignal }): Promise<BrandList['items']> {
      return (await unwrap(api.GET('/api/brands', signalOf(options)))).items;
    },

    /** A brand's posts, newest first, a page at a time (`nextCursor` asks for the next). */
    async listPosts(brandId: string, page: PageOptions = {}): Promise<PostPage> {
      const query = { brandId, ...pageQuery(page) };
      return unwrap(api.GET('/api/posts', { params: { query }, ...signalOf(page) }));
    },

    /** Your blogs, newest first, a page at a time. */
    async listBlogs(page: PageOptions = {}): Promise<BlogPage> {
      return unwrap(api.GET('/api/blogs', { params: { query: pageQuery(page) }, ...signalOf(page) }));
    },

    /** A job's status now. */
    async getJob(jobId: string, options?: { signal?: AbortSignal }): Promise<JobStatus> {
      return unwrap(api.GET('/api/jobs/{jobId}', { params: { path: { jobId } }, ...signalOf(options) }));
    },

    /**
     * Sends a file as a resumable upload (tus, in chunks of `chunkSize`, 5 MB by default): a lost
     * connection goes on from where the server is. Resolves with the upload's id, for `submitPost`'s
     * `media` or `submitBlog`'s images as `{ uploadId }`; rejects with a MediaflowError for an error
     * answer. Its requests go through tus-js-client (XMLHttpRequest, Node's http), not `fetch`.
     */
    upload(file: UploadSource, options?: UploadOptions): Promise<string> {
      return uploadFile({ baseUrl, authorization }, file, options);
    },

    /** Follows a job to its end (its event stream, else polling) and resolves with its final status. */
    watchJob(jobId: string, options?: WatchOptions): Promise<JobStatus> {
      return watchJob({ baseUrl, fetch, authorization, api }, jobId, options);
    },
  };
}

/** The answer's body, or a MediaflowError for an error answer. */
async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) return data;
  throw MediaflowError.from(response, error);
}

function appendMedia(form: FormData, fields: MediaFields<string>, item: MediaInput, fallbackName: string): void {
  if (item instanceof Blob) appendFile(form, fields.file, item, fallbackName);
  else if ('uploadId' in item) form.append(fields.uploadId, item.uploadId);
  else form.append(fields.assetId, item.assetId);
}

function appendFile(form: FormData, field: string, file: Blob, fallbackName: string): void {
  // A File keeps its name; the API decides a file's kind by its bytes, never its name.
  if (typeof File !== 'undefined' && file instanceof File) form.append(field, file);
  else form.append(field, file, fallbackName);
}
