import type { AspectRatio, StoreProvider } from '@mediaflow/providers';

/**
 * The one list of job kinds: each job's queue, payload and result. Enqueueing a name with another job's
 * payload, or leaving a worker's handler out, fails the type check.
 *
 * Every payload carries `jobId`, the job's row in PostgreSQL, which is also its BullMQ job id.
 */
export interface JobTypes {
  'generate-image': { payload: GenerateImagePayload; result: GenerateImageResult };
}

/** Which queue (and so which worker) runs each job kind. */
export const JOB_QUEUES = {
  'generate-image': 'generation',
} as const satisfies Record<keyof JobTypes, string>;

export type JobName = keyof JobTypes;
export type QueueName = (typeof JOB_QUEUES)[JobName];
export type JobPayload<N extends JobName> = JobTypes[N]['payload'];
export type JobResult<N extends JobName> = JobTypes[N]['result'];
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
