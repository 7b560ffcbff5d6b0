import { isClassifiedError, type JobErrorRecord } from '@mediaflow/domain';
import { UnrecoverableError } from 'bullmq';

/**
 * What a job's poller is told about a failure: a classified error (a provider's, a permanent job error)
 * speaks for itself; anything else is retried and reported as internal, in words that give away nothing of
 * the service's insides (paths, database details): the detail is in the worker's log under the request id.
 */
export function describeFailure(error: unknown, requestId?: string): JobErrorRecord {
  if (isClassifiedError(error)) return { code: error.code, message: error.message, retryable: error.retryable };
  // Ours, and meant for the poller (nothing to do, no handler).
  if (error instanceof UnrecoverableError) return { code: 'internal', message: error.message, retryable: false };
  const where = requestId ? `; the service's logs have the details under request id ${requestId}` : '';
  return { code: 'internal', message: `an internal error stopped this attempt${where}`, retryable: true };
}
