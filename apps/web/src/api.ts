import {
  type BlogPage,
  type Brand,
  createClient,
  type GenerateImageResult,
  type JobAccepted,
  type JobStatus,
  type MediaflowClient,
  MediaflowError,
  type Post,
  type PostPage,
  type paths,
  type SubmitPostJobStatus,
} from '@mediaflow/client';

import { ASPECT_RATIOS, type AspectRatio } from '@mediaflow/domain';

// The API's shapes come from the client's generated types (one declaration: the OpenAPI document).
export type { AspectRatio, BlogPage, Brand, JobError, JobStatus, Post, PostPage } from '@mediaflow/client';
export { ASPECT_RATIOS };
export type Accepted = JobAccepted;
export type JobState = JobStatus['status'];
/** A submission's step (generations have none). */
export type JobStep = NonNullable<SubmitPostJobStatus['steps']>[number];
export type PostMedia = Post['media'][number];
/** One blog with its whole content (GET /api/blogs/:id). */
export type Blog = paths['/api/blogs/{id}']['get']['responses'][200]['content']['application/json'];
/** A blog in a list: an excerpt of its content, not all of it. */
export type BlogSummary = BlogPage['items'][number];

/** A generation's result (a generate-image job's `result`), with the prompt that made it. */
export type GeneratedImage = GenerateImageResult & { prompt: string };

/** A media item the person chose: a file from this device, or one of their generated images. */
export type MediaInput = File | { assetId: string };
/** What a submission sends for it: a large file goes first as a resumable upload, named by its id. */
export type MediaToSend = MediaInput | { uploadId: string };

/**
 * Files over this size go as resumable uploads (tus, in chunks) before the submission names them: a lost
 * connection then costs one chunk, not the whole video. Smaller ones go in the submission's own request.
 */
export const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;

/** The API for one signed-in user. */
export class Api {
  readonly baseUrl: string;
  readonly #client: MediaflowClient;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl;
    this.#client = createClient({ baseUrl, token });
  }

  generateImage(input: { prompt: string; referenceImage?: File; aspectRatio?: AspectRatio }): Promise<Accepted> {
    return this.#client.generateImage(input);
  }

  submitPost(input: {
    brandId: string;
    caption: string;
    scheduledAt?: string;
    media: MediaToSend[];
  }): Promise<Accepted> {
    return this.#client.submitPost(input);
  }

  submitBlog(input: {
    title: string;
    content: string;
    imageAlt?: string;
    banner?: MediaToSend;
    featured?: MediaToSend;
  }): Promise<Accepted> {
    return this.#client.submitBlog(input);
  }

  /** Sends a file as a resumable upload; resolves with its id, for a submission's `{ uploadId }`. */
  upload(
    file: File,
    options: { signal: AbortSignal; onProgress: (sent: number, total: number) => void },
  ): Promise<string> {
    return this.#client.upload(file, options);
  }

  createBrand(name: string): Promise<Brand> {
    return this.#client.createBrand(name);
  }

  listBrands(): Promise<Brand[]> {
    return this.#client.listBrands();
  }

  listPosts(brandId: string): Promise<PostPage> {
    return this.#client.listPosts(brandId);
  }

  listBlogs(): Promise<BlogPage> {
    return this.#client.listBlogs();
  }

  /** One post (the client has no helper for it: its typed `api`). */
  async getPost(id: string): Promise<Post> {
    const { data, error, response } = await this.#client.api.GET('/api/posts/{id}', { params: { path: { id } } });
    if (data === undefined) throw MediaflowError.from(response, error);
    return data;
  }

  async getBlog(id: string): Promise<Blog> {
    const { data, error, response } = await this.#client.api.GET('/api/blogs/{id}', { params: { path: { id } } });
    if (data === undefined) throw MediaflowError.from(response, error);
    return data;
  }

  /** Follows a job to its end (the event stream, or polling), calling onUpdate with each status. */
  watchJob(
    accepted: Accepted,
    options: { signal?: AbortSignal; onUpdate: (job: JobStatus) => void },
  ): Promise<JobStatus> {
    return this.#client.watchJob(accepted.jobId, {
      ...(options.signal ? { signal: options.signal } : {}),
      eventsUrl: accepted.eventsUrl,
      onUpdate: options.onUpdate,
    });
  }
}

/** A sentence for the person at the screen, for any error the API calls throw. */
export function describeError(error: unknown, baseUrl: string): string {
  if (error instanceof MediaflowError) {
    if (error.status === 401) return `The API refused the access token: ${error.message}`;
    return error.message;
  }
  if (error instanceof DOMException && error.name === 'AbortError') return 'Stopped.';
  // fetch's TypeError: the network, or a CORS refusal (which the browser does not detail).
  if (error instanceof TypeError) return `Cannot reach the API at ${baseUrl}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof MediaflowError && error.status === 401;
}
