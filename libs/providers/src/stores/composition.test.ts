import type { StoredMedia } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.ts';
import { FallbackStore } from './fallback.ts';
import type { MediaStore, UploadRequest } from './media-store.ts';
import { RetryingStore } from './retrying.ts';

const request: UploadRequest = {
  source: Buffer.from('jpeg'),
  folder: 'ai-generated-images',
  publicId: 'x',
  format: 'jpg',
  resourceType: 'image',
};

/** A store that plays back a script of failures before succeeding, counting its calls. */
function scriptedStore(name: 'cloudinary' | 'imagekit', failures: ProviderError[]): MediaStore & { calls: number } {
  return {
    name,
    provider: name,
    calls: 0,
    async upload(): Promise<StoredMedia> {
      this.calls++;
      const failure = failures.shift();
      if (failure) throw failure;
      return {
        provider: name,
        providerId: `${name}-id`,
        url: `https://${name}.example/x.jpg`,
        bytes: 4,
        resourceType: 'image',
        format: 'jpg',
      };
    },
    promote(): Promise<StoredMedia> {
      return this.upload(request);
    },
    async delete(): Promise<void> {},
  };
}

const transient = () =>
  new ProviderError({ provider: 'cloudinary', code: 'provider_unavailable', retryable: true, message: '500' });
const permanent = () =>
  new ProviderError({ provider: 'cloudinary', code: 'provider_auth', retryable: false, message: '401' });

describe('RetryingStore', () => {
  it('retries passing failures and returns the first success', async () => {
    const inner = scriptedStore('cloudinary', [transient(), transient()]);
    const stored = await new RetryingStore(inner, { attempts: 3, baseDelayMs: 1 }, silentLogger).upload(request);
    expect(stored.provider).toBe('cloudinary');
    expect(inner.calls).toBe(3);
  });

  it('gives up after its attempts with the last error', async () => {
    const inner = scriptedStore('cloudinary', [transient(), transient(), transient()]);
    await expect(
      new RetryingStore(inner, { attempts: 3, baseDelayMs: 1 }, silentLogger).upload(request),
    ).rejects.toMatchObject({
      code: 'provider_unavailable',
    });
    expect(inner.calls).toBe(3);
  });

  it('does not retry a permanent failure', async () => {
    const inner = scriptedStore('cloudinary', [permanent()]);
    await expect(
      new RetryingStore(inner, { attempts: 3, baseDelayMs: 1 }, silentLogger).upload(request),
    ).rejects.toMatchObject({
      code: 'provider_auth',
    });
    expect(inner.calls).toBe(1);
  });
});

describe('FallbackStore', () => {
  it('uses the first store when it works', async () => {
    const [first, second] = [scriptedStore('cloudinary', []), scriptedStore('imagekit', [])];
    expect((await new FallbackStore([first, second], silentLogger).upload(request)).provider).toBe('cloudinary');
    expect(second.calls).toBe(0);
  });

  it('moves on to the next store on any failure', async () => {
    const [first, second] = [scriptedStore('cloudinary', [permanent()]), scriptedStore('imagekit', [])];
    expect((await new FallbackStore([first, second], silentLogger).upload(request)).provider).toBe('imagekit');
  });

  it('fails naming every store, retryable when some failure was passing', async () => {
    const [first, second] = [scriptedStore('cloudinary', [permanent()]), scriptedStore('imagekit', [transient()])];
    const error = await new FallbackStore([first, second], silentLogger).upload(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ retryable: true, message: expect.stringMatching(/cloudinary: 401; imagekit: 500/) });
  });

  it('deletes from the store whose provider holds the file, whatever the stores are named', async () => {
    const deleted: string[] = [];
    const named = (name: string, provider: 'cloudinary' | 'imagekit'): MediaStore => ({
      ...scriptedStore(provider, []),
      name,
      async delete(): Promise<void> {
        deleted.push(name);
      },
    });
    const store = new FallbackStore([named('primary', 'cloudinary'), named('backup', 'imagekit')], silentLogger);
    expect(store.provider).toBe('cloudinary');
    expect(store.name).toBe('primary → backup');
    const media: StoredMedia = {
      provider: 'imagekit',
      providerId: 'imagekit-id',
      url: 'https://imagekit.example/x.jpg',
      bytes: 4,
      resourceType: 'image',
      format: 'jpg',
    };
    await store.delete(media);
    expect(deleted).toEqual(['backup']);
  });

  it('is permanent when every store failed for good', async () => {
    const [first, second] = [scriptedStore('cloudinary', [permanent()]), scriptedStore('imagekit', [permanent()])];
    await expect(new FallbackStore([first, second], silentLogger).upload(request)).rejects.toMatchObject({
      retryable: false,
    });
  });
});
