import type { components, paths } from './schema.ts';

type Schemas = components['schemas'];
type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

/** GET /api/jobs/:id's body: one shape per `kind`, each with its own `result`. */
export type JobStatus = Schemas['JobStatus'];
export type GenerateImageJobStatus = Schemas['GenerateImageJobStatus'];
export type SubmitPostJobStatus = Schemas['SubmitPostJobStatus'];
export type SubmitBlogJobStatus = Schemas['SubmitBlogJobStatus'];
export type GenerateImageResult = Schemas['GenerateImageResult'];
export type SubmitPostResult = Schemas['SubmitPostResult'];
export type SubmitBlogResult = Schemas['SubmitBlogResult'];
export type JobError = Schemas['JobError'];
export type JobKind = JobStatus['kind'];
export type AspectRatio = GenerateImageResult['aspectRatio'];

/** The 202 answer of anything that queues a job. */
export type JobAccepted = Json<paths['/api/ai-agent/generate-image']['post']['responses'][202]>;
export type Brand = Json<paths['/api/brands']['post']['responses'][201]>;
export type BrandList = Json<paths['/api/brands']['get']['responses'][200]>;
export type PostPage = Json<paths['/api/posts']['get']['responses'][200]>;
export type Post = PostPage['items'][number];
export type BlogPage = Json<paths['/api/blogs']['get']['responses'][200]>;
/** A blog in a list: an `excerpt` instead of its content. */
export type BlogSummary = BlogPage['items'][number];
export type Blog = Json<paths['/api/blogs/{id}']['get']['responses'][200]>;

/** A job that will not change any more. */
export function isFinished(job: JobStatus): boolean {
  return job.status === 'completed' || job.status === 'failed';
}
