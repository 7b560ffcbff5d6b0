import type { BlogsRepository, JobsRepository, PostsRepository } from '@mediaflow/db';
import {
  type JobRef,
  PermanentJobError,
  type PersistBlogPayload,
  type PersistBlogResult,
  type PersistPostPayload,
  type PersistPostResult,
  type StepCommit,
  type StepResult,
  type StoredMedia,
} from '@mediaflow/domain';
import { inSpan, SpanKind } from '@mediaflow/telemetry';

/** What persisting reads and writes. */
export interface PersistenceRepositories {
  jobs: Pick<JobsRepository, 'promotedMedia' | 'blogContent'>;
  posts: Pick<PostsRepository, 'createOnce'>;
  blogs: Pick<BlogsRepository, 'createOnce'>;
}

export interface PersistenceDeps {
  /**
   * Runs `write` on repositories bound to one transaction that also records the step's start and its
   * completion, with the job's (JobsRepository.completeInCommit): a submission's record, its media, its
   * job's end and its webhook deliveries are one commit.
   */
  inStepCommit<R extends StepResult>(
    ref: JobRef,
    write: (repositories: PersistenceRepositories) => Promise<R>,
  ): Promise<StepCommit<R>>;
}

/** The post and its media rows, in one transaction, written once per submission however often it runs. */
export async function persistPost(
  payload: PersistPostPayload,
  deps: PersistenceRepositories,
): Promise<PersistPostResult> {
  const promoted = await promotedMedia(payload.jobId, payload.mediaSteps, deps);
  const post = await inSpan('db write post', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, () =>
    deps.posts.createOnce(
      {
        jobId: payload.jobId,
        brandId: payload.brandId,
        authorId: payload.authorId,
        caption: payload.caption,
        scheduledAt: payload.scheduledAt ? new Date(payload.scheduledAt) : null,
      },
      promoted.map((media) => ({
        url: media.url,
        type: media.resourceType,
        provider: media.provider,
        providerId: media.providerId,
        width: media.width ?? null,
        height: media.height ?? null,
        bytes: media.bytes,
        duration: media.duration ?? null,
      })),
    ),
  );
  return { postId: post.id, media: post.media.map(({ id, url, type }) => ({ id, url, type })) };
}

/**
 * The blog row, written once per submission however often it runs. Its content comes from the job's row
 * in PostgreSQL, not from the queue, which carries ids and small fields only.
 */
export async function persistBlog(
  payload: PersistBlogPayload,
  deps: PersistenceRepositories,
): Promise<PersistBlogResult> {
  const steps = [payload.bannerStep, payload.featuredStep].filter((step): step is number => step !== null);
  const promoted = new Map((await promotedMedia(payload.jobId, steps, deps)).map((media, i) => [steps[i], media]));
  const content = await deps.jobs.blogContent(payload.jobId);
  // The gateway writes the content with the job; without it there is nothing to publish, however often tried.
  if (content === undefined) {
    throw new PermanentJobError(
      'internal',
      `no blog content for job ${payload.jobId}: its row, or its plan's record.content, is missing`,
    );
  }
  const blog = await inSpan('db write blog', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, () =>
    deps.blogs.createOnce({
      jobId: payload.jobId,
      authorId: payload.authorId,
      title: payload.title,
      content,
      imageAlt: payload.imageAlt,
      banner: payload.bannerStep === null ? null : (promoted.get(payload.bannerStep)?.url ?? null),
      image: payload.featuredStep === null ? null : (promoted.get(payload.featuredStep)?.url ?? null),
    }),
  );
  return { blogId: blog.id, banner: blog.banner, image: blog.image };
}

/** The results of the submission's promotion steps, in the order asked. */
async function promotedMedia(jobId: string, steps: number[], deps: PersistenceRepositories): Promise<StoredMedia[]> {
  const results = await deps.jobs.promotedMedia(jobId);
  return steps.map((step) => {
    const media = results.get(step);
    // The flow runs this only after every promotion completed; a gap means the record was tampered with.
    if (!media) throw new PermanentJobError('internal', `media step ${step} of job ${jobId} has no promoted result`);
    return media;
  });
}
