import type { AspectRatio, PermanentFolder, StoredMedia, StoreProvider } from './media.ts';

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
  'deliver-webhook': { payload: DeliverWebhookPayload; result: DeliverWebhookResult };
}

/** Which queue (and so which worker) runs each job kind. */
export const JOB_QUEUES = {
  'generate-image': 'generation',
  'promote-media': 'storage',
  'persist-post': 'persistence',
  'persist-blog': 'persistence',
  'deliver-webhook': 'webhooks',
} as const satisfies Record<keyof JobTypes, string>;

export type JobName = keyof JobTypes;
export type QueueName = (typeof JOB_QUEUES)[JobName];

/** Every queue, for tools that look at all of them. */
export const QUEUE_NAMES = [...new Set(Object.values(JOB_QUEUES))] as QueueName[];

/** Which queue each worker service runs: start.ts, the benchmark and the deployments all read it here. */
export const SERVICE_QUEUES = {
  generator: 'generation',
  storage: 'storage',
  persistence: 'persistence',
  notifier: 'webhooks',
} as const satisfies Record<string, QueueName>;
export type WorkerServiceName = keyof typeof SERVICE_QUEUES;

export type JobPayload<N extends JobName> = JobTypes[N]['payload'];
export type JobResult<N extends JobName> = JobTypes[N]['result'];
/** A job to enqueue: a name with its own payload, never another's. */
export type JobRequest = { [N in JobName]: { name: N; payload: JobPayload<N> } }[JobName];
export type JobNamesOf<Q extends QueueName> = { [N in JobName]: (typeof JOB_QUEUES)[N] extends Q ? N : never }[JobName];

/**
 * What a client submits, as the jobs table records it: a generation is one job; a post or a blog is a
 * submission whose steps are promote-media jobs and a final persist job.
 */
export type JobKind = 'generate-image' | 'submit-post' | 'submit-blog';
/** What a finished job of each kind answers its poller. */
export interface JobKindResults {
  'generate-image': GenerateImageResult;
  'submit-post': PersistPostResult;
  'submit-blog': PersistBlogResult;
}
export type JobKindResult = JobKindResults[JobKind];
/** What a completed step of a submission left: the result of its job. */
export type StepResult = JobResult<JobName>;

export type JobStatus = 'queued' | 'active' | 'completed' | 'failed';

/**
 * What recording an attempt's start found: `started`, the attempt may run; `completed`, the job already
 * completed (a run whose completion the queue lost, e.g. to a Redis outage, is offered again); `ended`,
 * nothing to run (no such job, or it failed).
 */
export type JobStartOutcome = 'started' | 'completed' | 'ended';

/**
 * How an attempt's completion was recorded: whether it completed the whole job (a submission completes
 * with its last step), and the webhook deliveries its commit wrote (the outbox), to be queued.
 */
export interface JobCompletion {
  jobCompleted: boolean;
  deliveries: string[];
}

/**
 * Whether recording an attempt's outcome also counts the attempt: it does when its start was not recorded
 * on its own (a step that commits its start with its end, `StepCommit`).
 */
export interface AttemptCount {
  countAttempt: boolean;
}

/**
 * A step whose own commit also recorded its start and its end (a persistence step: its writes, its
 * completion and the job's in one transaction). Its start found the job completed or ended already
 * (`JobStartOutcome`), or it ran: then its result and how its completion was recorded.
 */
export type StepCommit<R> =
  | { start: Exclude<JobStartOutcome, 'started'> }
  | { start: 'started'; result: R; completion: JobCompletion };

/** Which job, and which of its steps when it has several, an attempt belongs to. */
export interface JobRef {
  jobId: string;
  step?: number;
}

/** Which job, and which step of it, a payload belongs to; and the context it runs in. */
export interface JobRefPayload extends JobRef {
  context?: JobContext;
}

/**
 * The HTTP request a job came from: its id goes on every log line of every worker that handles the job,
 * and its trace context (W3C `traceparent`/`tracestate`) lets the job's spans continue the request's trace.
 */
export interface JobContext {
  requestId: string;
  traceparent?: string;
  tracestate?: string;
}

/**
 * Everything needed to queue a job again, kept as the job's `payload` in PostgreSQL: a single job is
 * `last` alone; a submission's chain has `first` (they run before `last`). Because PostgreSQL holds it,
 * work accepted before Redis lost its data can be queued again. Its requests go to Redis as they are, so
 * they carry ids and small fields only; large input stays in `record`.
 */
export interface JobPlan {
  first?: JobRequest[];
  last: JobRequest;
  /** A blog's content (up to 200 000 characters), read by its handler from here: never queued, never in Redis. */
  record?: { content: string };
  /** What a person reading the jobs table wants to know about the submission. */
  summary?: Record<string, unknown>;
  /** The request it came from; a job queued again keeps it, so its logs still join up. */
  context?: JobContext;
}

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

/**
 * Writes a blog once its banner and featured image (either optional) are promoted. Its content is not
 * here but in the job's plan (`record.content`), read from PostgreSQL.
 */
export interface PersistBlogPayload {
  jobId: string;
  step: number;
  authorId: string;
  title: string;
  imageAlt: string | null;
  bannerStep: number | null;
  featuredStep: number | null;
}

export interface PersistBlogResult {
  blogId: string;
  banner: string | null;
  image: string | null;
}

/**
 * Sends one webhook delivery (a row of webhook_deliveries, which carries the rest: the webhook, the job and
 * the event). Unlike every other job kind, its `jobId` names that delivery row, not a row of `jobs`: the
 * delivery is the record this job's attempts are kept in (the notifier's recorder writes them there), and
 * the BullMQ job id is the delivery's id, so queueing a delivery twice sends it once.
 */
export interface DeliverWebhookPayload {
  /** The delivery's id (webhook_deliveries.id). */
  jobId: string;
}

/** What the receiver answered the delivery that succeeded, and how long it took. */
export interface DeliverWebhookResult {
  statusCode: number;
  durationMs: number;
}
