/** What went wrong at a provider, in terms a job's poller can act on. */
export type ProviderErrorCode =
  | 'provider_blocked'
  | 'provider_timeout'
  | 'provider_quota'
  | 'provider_unavailable'
  | 'provider_rejected'
  | 'provider_auth'
  | 'provider_no_image';

/**
 * The codes a failed job can carry; clients switch on them. `dependency_unavailable` is never final: it
 * notes that a queued job waits for the database or the queue to come back.
 */
export type JobErrorCode = ProviderErrorCode | 'invalid_input' | 'internal' | 'dependency_unavailable';

/** What a failed (or retrying) job tells its poller. */
export interface JobErrorRecord {
  code: JobErrorCode;
  message: string;
  retryable: boolean;
}

/**
 * What the job runtime needs to know of any error: its code, and whether trying again can help.
 * Provider errors and permanent job errors carry both; anything else counts as a passing internal error.
 */
export interface ClassifiedError {
  code: JobErrorCode;
  retryable: boolean;
  /** With `provider_quota`: how long the provider asked callers to wait before the next call. */
  retryAfterMs?: number;
}

/** A provider's quota is out: how long to wait before calling it again, or undefined for any other error. */
export function quotaRetryAfterMs(error: unknown, fallbackMs: number): number | undefined {
  if (!isClassifiedError(error) || error.code !== 'provider_quota') return undefined;
  return error.retryAfterMs ?? fallbackMs;
}

export function isClassifiedError(error: unknown): error is Error & ClassifiedError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ClassifiedError>).code === 'string' &&
    typeof (error as Partial<ClassifiedError>).retryable === 'boolean'
  );
}

/** A failure no retry can mend (bad input, a missing file): the job fails at once. */
export class PermanentJobError extends Error implements ClassifiedError {
  readonly code: JobErrorCode;
  readonly retryable = false;
  constructor(code: JobErrorCode, message: string) {
    super(message);
    this.name = 'PermanentJobError';
    this.code = code;
  }
}
