import { isClassifiedError, type JobErrorRecord } from '@mediaflow/domain';
import { UnrecoverableError } from 'bullmq';

/**
 * What a job's poller is told about a failure: a classified error (a provider's, a permanent job error)
 * speaks for itself; anything else is retried and reported as internal.
 */
export function describeFailure(error: unknown): JobErrorRecord {
  if (isClassifiedError(error)) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof UnrecoverableError) return { code: 'internal', message: error.message, retryable: false };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: `internal error: ${message}`, retryable: true };
}
