import { describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.ts';
import type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './image-generator.ts';
import { QuotaGuardedGenerator } from './quota-guard.ts';

const REQUEST: GenerateImageRequest = { prompt: 'a fox', aspectRatio: '1:1' };
const IMAGE: GeneratedImage = { data: Buffer.from('jpeg'), mimeType: 'image/jpeg' };
const quota = (retryAfterMs?: number) =>
  new ProviderError({ provider: 'gemini', code: 'provider_quota', retryable: true, message: '429', retryAfterMs });

/** A model that answers each call with the next scripted outcome, counting calls; `gate` holds a call open. */
function scriptedModel(outcomes: Array<'ok' | ProviderError>) {
  const model = {
    calls: 0,
    gate: undefined as Promise<void> | undefined,
    model: 'test-model',
    async generate(): Promise<GeneratedImage> {
      model.calls++;
      const outcome = outcomes.shift() ?? 'ok';
      await model.gate;
      if (outcome !== 'ok') throw outcome;
      return IMAGE;
    },
  } satisfies ImageGenerator & Record<string, unknown>;
  return model;
}

describe('QuotaGuardedGenerator', () => {
  it('passes calls through while the quota is fine', async () => {
    const model = scriptedModel([]);
    const guarded = new QuotaGuardedGenerator(model, 'gemini');
    await expect(guarded.generate(REQUEST)).resolves.toBe(IMAGE);
    await expect(guarded.generate(REQUEST)).resolves.toBe(IMAGE);
    expect(model.calls).toBe(2);
  });

  it('after a 429 refuses calls without making them until the asked delay has passed', async () => {
    let now = 1_000;
    const model = scriptedModel([quota(2_000)]);
    const guarded = new QuotaGuardedGenerator(model, 'gemini', () => now);
    await expect(guarded.generate(REQUEST)).rejects.toMatchObject({ code: 'provider_quota', retryAfterMs: 2_000 });
    now += 500;
    await expect(guarded.generate(REQUEST)).rejects.toMatchObject({ code: 'provider_quota', retryAfterMs: 1_500 });
    expect(model.calls).toBe(1);
    now += 1_500;
    await expect(guarded.generate(REQUEST)).resolves.toBe(IMAGE);
    expect(model.calls).toBe(2);
  });

  it('lets one call probe after the delay while the others wait for its answer', async () => {
    let now = 0;
    const model = scriptedModel([quota(1_000), quota(1_000)]);
    const guarded = new QuotaGuardedGenerator(model, 'gemini', () => now);
    await expect(guarded.generate(REQUEST)).rejects.toMatchObject({ code: 'provider_quota' });
    now = 1_000;
    let open: () => void = () => {};
    model.gate = new Promise((resolve) => {
      open = resolve;
    });
    // Three calls at once: one probes (and is refused again), the other two wait and are then refused unsent.
    const calls = [guarded.generate(REQUEST), guarded.generate(REQUEST), guarded.generate(REQUEST)];
    open();
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(model.calls).toBe(2);
  });

  it('waits a default delay when the refusal names none, and leaves other errors alone', async () => {
    let now = 0;
    const unavailable = new ProviderError({
      provider: 'gemini',
      code: 'provider_unavailable',
      retryable: true,
      message: '503',
    });
    const model = scriptedModel([unavailable, quota()]);
    const guarded = new QuotaGuardedGenerator(model, 'gemini', () => now);
    await expect(guarded.generate(REQUEST)).rejects.toBe(unavailable);
    await expect(guarded.generate(REQUEST)).rejects.toMatchObject({ code: 'provider_quota' });
    now = 29_000;
    await expect(guarded.generate(REQUEST)).rejects.toMatchObject({ retryAfterMs: 1_000 });
    expect(model.calls).toBe(2);
  });
});
