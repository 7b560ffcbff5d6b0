import type { JobErrorRecord } from './errors.ts';
import type { JobKind, JobKindResult, JobName, JobStatus } from './jobs.ts';

/**
 * A job as its owner sees it: the body of GET /api/jobs/:id, and the payload of the job's webhooks. Its
 * outcome once it has one (`result` when completed, `error` while retrying or when failed), and a
 * submission's steps.
 */
export interface JobStatusView {
  jobId: string;
  kind: JobKind;
  status: JobStatus;
  attempts: number;
  result?: JobKindResult;
  error?: JobErrorRecord;
  steps?: JobStepStatusView[];
}

export interface JobStepStatusView {
  step: number;
  kind: JobName;
  label: string;
  state: JobStatus;
  attempts: number;
  error?: JobErrorRecord;
}

/** What `toJobStatusView` reads of a job's record (the jobs row with its steps, as JobsRepository finds it). */
export interface JobStatusSource {
  id: string;
  kind: JobKind;
  status: JobStatus;
  attempts: number;
  result: JobKindResult | null;
  error: JobErrorRecord | null;
  steps: ReadonlyArray<{
    step: number;
    kind: JobName;
    label: string;
    state: JobStatus;
    attempts: number;
    error: JobErrorRecord | null;
  }>;
}

/** The one mapping from a job's record to what its owner is shown, wherever it is shown. */
export function toJobStatusView(job: JobStatusSource): JobStatusView {
  const { steps } = job;
  return {
    jobId: job.id,
    kind: job.kind,
    status: job.status,
    attempts: job.attempts,
    ...(job.status === 'completed' && job.result !== null ? { result: job.result } : {}),
    ...(job.error && job.status !== 'completed' ? { error: job.error } : {}),
    ...(steps.length > 0
      ? {
          steps: steps.map((step) => ({
            step: step.step,
            kind: step.kind,
            label: step.label,
            state: step.state,
            attempts: step.attempts,
            ...(step.error && step.state !== 'completed' ? { error: step.error } : {}),
          })),
        }
      : {}),
  };
}
