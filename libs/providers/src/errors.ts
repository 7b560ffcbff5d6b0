import type { ProviderErrorCode, StoreProvider } from '@mediaflow/domain';
import { providerQuotaRefusals } from '@mediaflow/telemetry';

/** Every provider an error can come from, one lowercase spelling each: the stores and the image model. */
export type ProviderName = StoreProvider | 'gemini';

/** How messages name each provider to a person. */
export const PROVIDER_LABELS: Record<ProviderName, string> = {
  cloudinary: 'Cloudinary',
  imagekit: 'ImageKit',
  local: 'local store',
  gemini: 'Gemini',
};

/**
 * What went wrong at a provider, in terms a job's poller can act on. `retryable` decides whether
 * the queue tries again (429, 5xx, timeouts, network) or fails the job at once (400, blocked, no image).
 */
export class ProviderError extends Error {
  readonly provider: ProviderName;
  readonly code: ProviderErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** With `provider_quota`: how long the provider asked callers to wait, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(options: {
    provider: ProviderName;
    code: ProviderErrorCode;
    message: string;
    retryable: boolean;
    status?: number;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'ProviderError';
    this.provider = options.provider;
    this.code = options.code;
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Counts a provider's refusal for quota or rate limit, and answers the error for it. */
function quotaError(provider: ProviderName, status: number, detail: string, cause: unknown, retryAfterMs?: number) {
  providerQuotaRefusals.inc({ provider });
  const wait = retryAfterMs === undefined ? '' : `; it asks to wait ${Math.ceil(retryAfterMs / 1000)} s`;
  return new ProviderError({
    provider,
    status,
    cause,
    retryAfterMs,
    code: 'provider_quota',
    retryable: true,
    message: `${PROVIDER_LABELS[provider]} is rate limiting or out of quota (${status}): ${detail}${wait}`,
  });
}

/**
 * A `Retry-After` (seconds or an HTTP date) or `retry-after-ms` header's wait, in ms; undefined when
 * there is none or it cannot be read.
 */
export function retryAfterFromHeaders(headers: { get(name: string): string | null } | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Maps an HTTP status from any provider to the error a poller sees. */
export function providerErrorFromStatus(
  provider: ProviderName,
  status: number,
  detail: string,
  cause?: unknown,
  retryAfterMs?: number,
): ProviderError {
  const base = { provider, status, cause };
  const label = PROVIDER_LABELS[provider];
  // 420 is Cloudinary's "Enhance Your Calm": its rate limit.
  if (status === 429 || status === 420) return quotaError(provider, status, detail, cause, retryAfterMs);
  if (status === 408 || status === 504) {
    return new ProviderError({
      ...base,
      code: 'provider_timeout',
      retryable: true,
      message: `${label} timed out (${status}): ${detail}`,
    });
  }
  if (status >= 500) {
    return new ProviderError({
      ...base,
      code: 'provider_unavailable',
      retryable: true,
      message: `${label} failed (${status}): ${detail}`,
    });
  }
  if (status === 401 || status === 403) {
    return new ProviderError({
      ...base,
      code: 'provider_auth',
      retryable: false,
      message: `${label} refused the credentials (${status}): ${detail}. Check the API key in the configuration.`,
    });
  }
  return new ProviderError({
    ...base,
    code: 'provider_rejected',
    retryable: false,
    message: `${label} rejected the request (${status}): ${detail}`,
  });
}

/** Network failures and our own timeouts: nothing was answered, so trying again is right. */
export function providerErrorFromNetwork(provider: ProviderName, error: unknown, timeoutMs: number): ProviderError {
  const label = PROVIDER_LABELS[provider];
  const name = error instanceof Error ? error.name : '';
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new ProviderError({
      provider,
      code: 'provider_timeout',
      retryable: true,
      message: `${label} did not answer within ${timeoutMs} ms`,
      cause: error,
    });
  }
  const detail =
    error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  return new ProviderError({
    provider,
    code: 'provider_unavailable',
    retryable: true,
    message: `${label} could not be reached: ${detail}`,
    cause: error,
  });
}
