import type { StoredMedia, StoreProvider } from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { ProviderError } from '../errors.ts';
import type { MediaStore, PromoteRequest, UploadRequest } from './media-store.ts';

export interface CircuitBreakerOptions {
  /** Consecutive failed calls that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one call probes the store again. */
  openMs: number;
  now?: () => number;
}

/**
 * Stops calling a store that keeps failing: after `failureThreshold` failures in a row every call fails
 * at once (so a fallback store takes over without waiting on timeouts and retries) for `openMs`; then one
 * call probes the store, and its success closes the circuit again. State is per process.
 */
export class CircuitBreakerStore implements MediaStore {
  readonly name: string;
  readonly provider: StoreProvider;
  private readonly inner: MediaStore;
  private readonly options: CircuitBreakerOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(inner: MediaStore, options: CircuitBreakerOptions, logger: Logger) {
    this.inner = inner;
    this.options = options;
    this.logger = logger;
    this.now = options.now ?? Date.now;
    this.name = inner.name;
    this.provider = inner.provider;
  }

  upload(request: UploadRequest): Promise<StoredMedia> {
    return this.guard(() => this.inner.upload(request));
  }

  promote(source: StoredMedia, request: PromoteRequest): Promise<StoredMedia> {
    return this.guard(() => this.inner.promote(source, request));
  }

  delete(media: StoredMedia): Promise<void> {
    return this.guard(() => this.inner.delete(media));
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    const open = this.failures >= this.options.failureThreshold;
    if (open && (this.now() < this.openUntil || this.probing)) {
      throw new ProviderError({
        provider: this.provider,
        code: 'provider_unavailable',
        retryable: true,
        message: `${this.name} failed ${this.failures} times in a row; not calling it until ${new Date(this.openUntil).toISOString()}`,
      });
    }
    this.probing = open;
    try {
      const result = await call();
      if (open) this.logger.info({ store: this.name }, 'store answered again; circuit closed');
      this.failures = 0;
      return result;
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'provider_quota') {
        // Out of quota: no call until the wait it asked for is over, and the next store takes the work.
        this.failures = this.options.failureThreshold;
        this.openUntil = this.now() + (error.retryAfterMs ?? this.options.openMs);
        this.logger.warn({ store: this.name, openMs: this.openUntil - this.now() }, 'quota out; circuit opened');
      } else if (!(error instanceof ProviderError) || error.retryable) {
        // Only failures that say the store is unwell count; a refused request is the caller's problem.
        this.failures++;
        if (this.failures >= this.options.failureThreshold) {
          this.openUntil = this.now() + this.options.openMs;
          this.logger.warn(
            { store: this.name, failures: this.failures, openMs: this.options.openMs },
            'circuit opened',
          );
        }
      }
      throw error;
    } finally {
      this.probing = false;
    }
  }
}
