import type { AspectRatio, PermanentFolder, StoredMedia, StoreProvider } from '@mediaflow/providers';
import type { TraceCarrier } from '@mediaflow/telemetry';

/**
 * The one list of job kinds: each job's queue, payload and result. Enqueueing a name with another job's
 * payload, or leaving a worker's handler out, fails the type check.
 *
 * Every payload carries `jobId`, the job's row in PostgreSQL; a job that is one step of a submission's
 * chain also carries `step`, its row in job_steps.
 */
export interface JobTypes {
  'generate-image': { payload: GenerateImagePayload; result: GenerateImageResult };
  'promote-media': { payload: PromoteMediaPayload; result: StoredMedia };
  'persist-post': { payload: PersistPostPayload; result: PersistPostResult };
  'persist-blog': { payload: PersistBlogPayload; result: PersistBlogResult };
}

/** Which queue (and so which worker) runs each job kind. */
export const JOB_QUEUES = {
  'generate-image': 'generation',
  'promote-media': 'storage',
  'persist-post': 'persistence',
  'persist-blog': 'persistence',
} as const satisfies Record<keyof JobTypes, string>;

/** Every queue, for tools that look at all of them. */
export const QUEUE_NAMES = [...new Set(Object.values(JOB_QUEUES))] as QueueName[];

export type JobName = keyof JobTypes;
export type QueueName = (typeof JOB_QUEUES)[JobName];
export type JobPayload<N extends JobName> = JobTypes[N]['payload'];
export type JobResult<N extends JobName> = JobTypes[N]['result'];
/** Which job, and which step of it, a payload belongs to; and the context it runs in. */
export interface JobRefPayload {
  jobId: string;
  step?: number;
  context?: JobContext;
}
/**
 * The HTTP request a job came from: its id goes on every log line of every worker that handles the job,
 * and its trace context lets the job's spans continue the request's trace.
 */
export interface JobContext extends TraceCarrier {
  requestId: string;
}
/** A job to enqueue: a name with its own payload, never another's. */
export type JobRequest = { [N in JobName]: { name: N; payload: JobPayload<N> } }[JobName];
export type JobNamesOf<Q extends QueueName> = { [N in JobName]: (typeof JOB_QUEUES)[N] extends Q ? N : never }[JobName];

/** Name of the reference image among a generation job's stored inputs. */
export const REFERENCE_IMAGE_INPUT = 'referenceImage';

export interface GenerateImagePayload {
  jobId: string;
  ownerId: string;
  /** As the user gave it; the worker enhances it. */
  prompt: string;
  /** The user's choice; when absent the reference image decides, and 1:1 without one. */
  aspectRatio?: AspectRatio;
  /** Whether a reference image is stored with the job (job_inputs, REFERENCE_IMAGE_INPUT). */
  hasReference: boolean;
}

export interface GenerateImageResult {
  assetId: string;
  url: string;
  provider: StoreProvider;
  width: number;
  height: number;
  aspectRatio: AspectRatio;
  format: 'jpg';
}

/** Moves one temporary file (an upload, or a generated asset) into its permanent folder. */
export interface PromoteMediaPayload {
  jobId: string;
  step: number;
  source: StoredMedia;
  folder: PermanentFolder;
  /** The permanent file's name, without extension. */
  publicId: string;
  /**
   * Keep the source where it is: it is a generated asset already promoted for another submission.
   * Otherwise the source is temporary and is moved.
   */
  copy: boolean;
  /** Set when the source is a generated asset, whose record is marked promoted. */
  assetId?: string;
}

/** Writes a post and its media rows once every media item is promoted. */
export interface PersistPostPayload {
  jobId: string;
  step: number;
  authorId: string;
  brandId: string;
  caption: string;
  /** ISO 8601, or null to publish at once. */
  scheduledAt: string | null;
  /** The promote-media steps whose results are the post's media, in the post's order. */
  mediaSteps: number[];
}

export interface PersistPostResult {
  postId: string;
  media: Array<{ id: string; url: string; type: 'image' | 'video' }>;
}

/** Writes a blog once its banner and featured image (either optional) are promoted. */
export interface PersistBlogPayload {
  jobId: string;
  step: number;
  authorId: string;
  title: string;
  content: string;
  imageAlt: string | null;
  bannerStep: number | null;
  featuredStep: number | null;
}

export interface PersistBlogResult {
  blogId: string;
  banner: string | null;
  image: string | null;
}
