import type { StoredMedia } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.ts';
import { CircuitBreakerStore } from './circuit-breaker.ts';
import type { MediaStore, UploadRequest } from './media-store.ts';

const request: UploadRequest = {
  source: Buffer.from('x'),
  folder: 'uploads',
  publicId: 'x',
  format: 'jpg',
  resourceType: 'image',
};
const stored: StoredMedia = {
  provider: 'cloudinary',
  providerId: 'x',
  url: 'https://c.example/x.jpg',
  bytes: 1,
  resourceType: 'image',
  format: 'jpg',
};

function flakyStore(): MediaStore & { healthy: boolean; calls: number } {
  const store: MediaStore & { healthy: boolean; calls: number } = {
    name: 'cloudinary',
    provider: 'cloudinary',
    healthy: false,
    calls: 0,
    async upload(): Promise<StoredMedia> {
      store.calls++;
      if (!store.healthy)
        throw new ProviderError({
          provider: 'cloudinary',
          code: 'provider_unavailable',
          retryable: true,
          message: '503',
        });
      return stored;
    },
    promote: (): Promise<StoredMedia> => store.upload(request),
    delete: async () => {},
  };
  return store;
}

describe('CircuitBreakerStore', () => {
  it('opens after repeated failures, fails fast while open, probes after a while and closes on success', async () => {
    let now = 0;
    const inner = flakyStore();
    const breaker = new CircuitBreakerStore(inner, { failureThreshold: 3, openMs: 1000, now: () => now }, silentLogger);
    for (let i = 0; i < 3; i++) await expect(breaker.upload(request)).rejects.toThrow('503');
    expect(inner.calls).toBe(3);

    await expect(breaker.upload(request)).rejects.toThrow(/not calling it/);
    expect(inner.calls).toBe(3);

    now = 1001;
    await expect(breaker.upload(request)).rejects.toThrow('503');
    expect(inner.calls).toBe(4);
    await expect(breaker.upload(request)).rejects.toThrow(/not calling it/);

    now = 2500;
    inner.healthy = true;
    expect(await breaker.upload(request)).toEqual(stored);
    expect(await breaker.upload(request)).toEqual(stored);
    expect(inner.calls).toBe(6);
  });

  it('does not count refusals of the request itself', async () => {
    const inner = {
      ...flakyStore(),
      upload: async (): Promise<StoredMedia> => {
        throw new ProviderError({
          provider: 'cloudinary',
          code: 'provider_rejected',
          retryable: false,
          message: '400',
        });
      },
    };
    const breaker = new CircuitBreakerStore(inner, { failureThreshold: 2, openMs: 1000, now: () => 0 }, silentLogger);
    for (let i = 0; i < 5; i++) await expect(breaker.upload(request)).rejects.toThrow('400');
  });

  it('opens at the first quota refusal, for as long as the store asked', async () => {
    let now = 0;
    let calls = 0;
    const limited: MediaStore = {
      name: 'cloudinary',
      provider: 'cloudinary',
      async upload(): Promise<StoredMedia> {
        calls++;
        throw new ProviderError({
          provider: 'cloudinary',
          code: 'provider_quota',
          retryable: true,
          retryAfterMs: 5_000,
          message: '420',
        });
      },
      promote: (): Promise<StoredMedia> => limited.upload(request),
      delete: async () => {},
    };
    const breaker = new CircuitBreakerStore(
      limited,
      { failureThreshold: 5, openMs: 1000, now: () => now },
      silentLogger,
    );
    await expect(breaker.upload(request)).rejects.toMatchObject({ code: 'provider_quota' });
    now = 4_999;
    await expect(breaker.upload(request)).rejects.toThrow(/not calling it/);
    expect(calls).toBe(1);
    now = 5_000;
    await expect(breaker.upload(request)).rejects.toMatchObject({ code: 'provider_quota' });
    expect(calls).toBe(2);
  });
});
