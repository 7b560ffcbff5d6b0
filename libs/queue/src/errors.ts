import type { JobErrorRecord } from '@mediaflow/db';
import { ProviderError, type ProviderErrorCode } from '@mediaflow/providers';
import { UnrecoverableError } from 'bullmq';

/** The codes a failed job can carry; clients switch on them. */
export type JobErrorCode = ProviderErrorCode | 'invalid_input' | 'internal';

/** A failure no retry can mend (bad input, a missing file): the job fails at once. */
export class PermanentJobError extends UnrecoverableError {
  readonly code: JobErrorCode;
  constructor(code: JobErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a job's poller is told about a failure. Unknown errors are retried and reported as internal. */
export function describeFailure(error: unknown): JobErrorRecord & { code: JobErrorCode } {
  if (error instanceof PermanentJobError) return { code: error.code, message: error.message, retryable: false };
  if (error instanceof ProviderError) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof UnrecoverableError) return { code: 'internal', message: error.message, retryable: false };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: `internal error: ${message}`, retryable: true };
}
