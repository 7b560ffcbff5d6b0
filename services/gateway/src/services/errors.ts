/** The codes an error answer carries: stable, for clients to switch on. */
export type ErrorCode =
  | 'invalid_input'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'conflict'
  | 'gone'
  | 'precondition_failed'
  | 'idempotency_key_reused'
  | 'rate_limited'
  | 'service_unavailable'
  | 'internal';

/**
 * An answer other than success, thrown by services and hooks alike: the status and code the client
 * hears, and what to do about it. The error handler (http/errors.ts) turns it into the one error shape.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;
  /** Seconds the client should wait before trying again (sent as Retry-After). */
  readonly retryAfterS: number | undefined;
  constructor(statusCode: number, code: ErrorCode, message: string, options: { retryAfterS?: number } = {}) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.retryAfterS = options.retryAfterS;
  }
}
