import { PROVIDER_LABELS, ProviderError, type ProviderName } from '../errors.ts';
import type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './image-generator.ts';

/** A quota refusal that names no delay is waited out this long. */
const DEFAULT_QUOTA_WAIT_MS = 30_000;

/**
 * Keeps one process from knocking on a model whose quota is out. After a quota refusal every call fails
 * at once with a quota error (so the queue waits the rest of the delay out) until the delay the provider
 * asked for has passed; then a single call probes, and calls that come meanwhile wait for its answer. So a
 * process makes at most one call per delay while the quota is out, whatever its concurrency. The queue-wide
 * pause (the worker runtime's) keeps the other processes from fetching work meanwhile.
 */
export class QuotaGuardedGenerator implements ImageGenerator {
  readonly model: string;
  private readonly inner: ImageGenerator;
  private readonly provider: ProviderName;
  private readonly now: () => number;
  /** 0 while the quota is fine; else when the provider may be called again. */
  private closedUntil = 0;
  private probe: Promise<unknown> | undefined;

  constructor(inner: ImageGenerator, provider: ProviderName, now: () => number = Date.now) {
    this.inner = inner;
    this.model = inner.model;
    this.provider = provider;
    this.now = now;
  }

  async generate(request: GenerateImageRequest): Promise<GeneratedImage> {
    for (;;) {
      const waitMs = this.closedUntil - this.now();
      if (this.closedUntil !== 0 && waitMs > 0) throw this.refusal(waitMs);
      if (this.probe) {
        await this.probe.catch(() => undefined);
        continue;
      }
      if (this.closedUntil === 0) return this.call(request);
      const probe = this.call(request);
      this.probe = probe;
      try {
        return await probe;
      } finally {
        this.probe = undefined;
      }
    }
  }

  private async call(request: GenerateImageRequest): Promise<GeneratedImage> {
    try {
      const image = await this.inner.generate(request);
      this.closedUntil = 0;
      return image;
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'provider_quota') {
        this.closedUntil = this.now() + (error.retryAfterMs ?? DEFAULT_QUOTA_WAIT_MS);
      }
      throw error;
    }
  }

  private refusal(waitMs: number): ProviderError {
    return new ProviderError({
      provider: this.provider,
      code: 'provider_quota',
      retryable: true,
      retryAfterMs: waitMs,
      message: `${PROVIDER_LABELS[this.provider]} is out of quota; not calling it again for ${Math.ceil(waitMs / 1000)} s`,
    });
  }
}
