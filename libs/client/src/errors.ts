/** The API's error body: `{"error": {"code", "message"}}`. */
interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * An answer of 4xx or 5xx from the API, with its `code` (e.g. `not_found`, `invalid_input`,
 * `rate_limited`) and `message`. `retryAfter` is the seconds the API asked to wait (429, 503, and a 409
 * for an Idempotency-Key still being answered). A network failure is not one: fetch's own error is thrown.
 */
export class MediaflowError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = 'MediaflowError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** From an answer and its body as openapi-fetch parsed it (JSON when it was JSON, else the text). */
  static from(response: Response, body: unknown): MediaflowError {
    return MediaflowError.of(response.status, body, retryAfterOf(response));
  }

  /** From an answer's status, its body (parsed when it was JSON) and Retry-After, whatever made the request. */
  static of(status: number, body: unknown, retryAfter?: number): MediaflowError {
    if (isErrorBody(body)) return new MediaflowError(status, body.error.code, body.error.message, retryAfter);
    // Not the API's own answer (a proxy's, say): the status is all there is to go on.
    const text = typeof body === 'string' && body.length > 0 ? `: ${body.slice(0, 200)}` : '';
    return new MediaflowError(status, 'unexpected_response', `HTTP ${status}${text}`, retryAfter);
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  const error = (body as Partial<ErrorBody> | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

/** Retry-After in seconds, when the answer has one (the API sends seconds, never a date). */
export function retryAfterOf(response: Response): number | undefined {
  return parseRetryAfter(response.headers.get('retry-after'));
}

export function parseRetryAfter(header: string | null): number | undefined {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
