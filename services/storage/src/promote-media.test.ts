import type { PromoteMediaPayload, StoredMedia } from '@mediaflow/domain';
import type { MediaStore, PromoteRequest } from '@mediaflow/providers';
import { describe, expect, it } from 'vitest';
import { handlers } from './handlers.ts';
import { promoteMedia, type StorageDeps } from './promote-media.ts';

const temporary = (providerId: string): StoredMedia => ({
  provider: 'cloudinary',
  providerId,
  url: `https://res.cloudinary.test/${providerId}.jpg`,
  bytes: 1234,
  resourceType: 'image',
  format: 'jpg',
  width: 640,
  height: 480,
});

/** A store that promotes in memory and keeps every call; `fail` makes promote reject. */
function memoryStore(fail?: Error) {
  const promotions: Array<{ source: StoredMedia; request: PromoteRequest }> = [];
  const store: MediaStore = {
    name: 'memory',
    provider: 'cloudinary',
    upload: () => Promise.reject(new Error('not used here')),
    async promote(source, request) {
      promotions.push({ source, request });
      if (fail) throw fail;
      const providerId = `${request.folder}/${request.publicId}`;
      return { ...source, providerId, url: `https://res.cloudinary.test/${providerId}.jpg` };
    },
    delete: () => Promise.reject(new Error('not used here')),
  };
  return { store, promotions };
}

function depsWith(store: MediaStore) {
  const marked: Array<{ id: string; location: Pick<StoredMedia, 'provider' | 'providerId' | 'url'> }> = [];
  const deps: StorageDeps = {
    store,
    assets: {
      markPromoted: async (id, location) => {
        marked.push({ id, location });
      },
    },
  };
  return { deps, marked };
}

const payload = (overrides: Partial<PromoteMediaPayload> = {}): PromoteMediaPayload => ({
  jobId: 'job-1',
  step: 0,
  source: temporary('uploads/u1'),
  folder: 'auto',
  publicId: 'post-media-1',
  copy: false,
  ...overrides,
});

describe('promoteMedia handler', () => {
  it('is the handler of the promote-media jobs', () => {
    expect(handlers['promote-media']).toBe(promoteMedia);
  });

  it('moves an upload into its permanent folder and answers where it is now', async () => {
    const { store, promotions } = memoryStore();
    const { deps, marked } = depsWith(store);
    const result = await promoteMedia(payload(), deps);
    expect(promotions).toEqual([
      { source: temporary('uploads/u1'), request: { folder: 'auto', publicId: 'post-media-1', copy: false } },
    ]);
    expect(result).toEqual({
      ...temporary('uploads/u1'),
      providerId: 'auto/post-media-1',
      url: 'https://res.cloudinary.test/auto/post-media-1.jpg',
    });
    // An upload has no generated-asset record to mark.
    expect(marked).toEqual([]);
  });

  it('marks a generated asset promoted, at its new place, when it was moved', async () => {
    const { store } = memoryStore();
    const { deps, marked } = depsWith(store);
    const result = await promoteMedia(
      payload({
        source: temporary('ai-generated-images/g1'),
        folder: 'blog_banners',
        publicId: 'banner-1',
        assetId: 'asset-1',
      }),
      deps,
    );
    expect(result.providerId).toBe('blog_banners/banner-1');
    expect(marked).toHaveLength(1);
    expect(marked[0]?.id).toBe('asset-1');
    expect(marked[0]?.location).toMatchObject({
      provider: 'cloudinary',
      providerId: 'blog_banners/banner-1',
      url: 'https://res.cloudinary.test/blog_banners/banner-1.jpg',
    });
  });

  it('copies a generated asset promoted elsewhere already, and leaves its record alone', async () => {
    const { store, promotions } = memoryStore();
    const { deps, marked } = depsWith(store);
    const result = await promoteMedia(
      payload({ source: temporary('auto/earlier'), publicId: 'post-media-2', copy: true, assetId: 'asset-1' }),
      deps,
    );
    expect(promotions.map(({ request }) => request)).toEqual([
      { folder: 'auto', publicId: 'post-media-2', copy: true },
    ]);
    expect(result.providerId).toBe('auto/post-media-2');
    expect(marked).toEqual([]);
  });

  it('marks nothing when the store fails, and lets the failure through', async () => {
    const failure = Object.assign(new Error('cloudinary is down'), { code: 'provider_unavailable', retryable: true });
    const { store } = memoryStore(failure);
    const { deps, marked } = depsWith(store);
    await expect(promoteMedia(payload({ assetId: 'asset-1' }), deps)).rejects.toBe(failure);
    expect(marked).toEqual([]);
  });
});
