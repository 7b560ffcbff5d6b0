import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.ts';
import { LocalDiskStore } from './local-disk.ts';

describe('LocalDiskStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'local-store-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes the file in its folder and serves it under /media/', async () => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    const stored = await store.upload({
      source: Buffer.from('bytes'),
      folder: 'ai-generated-images',
      publicId: 'ai-generated-1-abc',
      format: 'jpg',
      resourceType: 'image',
    });
    expect(stored).toEqual({
      provider: 'local',
      providerId: 'ai-generated-images/ai-generated-1-abc.jpg',
      url: 'http://localhost:3000/media/ai-generated-images/ai-generated-1-abc.jpg',
      bytes: 5,
      resourceType: 'image',
      format: 'jpg',
    });
    expect(await readFile(path.join(root, stored.providerId), 'utf8')).toBe('bytes');
    expect(await readdir(path.join(root, 'ai-generated-images'))).toEqual(['ai-generated-1-abc.jpg']);
  });

  it.each(['../escape', 'a/b', '..', '', '.hidden'])('refuses the path segment %j', async (segment) => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    await expect(
      store.upload({
        source: Buffer.from('x'),
        folder: 'ai-generated-images',
        publicId: segment,
        format: 'jpg',
        resourceType: 'image',
      }),
    ).rejects.toThrow(/unsafe storage path segment/);
    await expect(
      store.upload({ source: Buffer.from('x'), folder: segment, publicId: 'ok', format: 'jpg', resourceType: 'image' }),
    ).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });

  it('promotes within the store by moving, and finds a file an earlier attempt already moved', async () => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    const temporary = await store.upload({
      source: Buffer.from('clip'),
      folder: 'uploads',
      publicId: 'u1',
      format: 'mp4',
      resourceType: 'video',
    });
    const promoted = await store.promote(temporary, { folder: 'auto', publicId: 'p1', copy: false });
    expect(promoted).toMatchObject({
      providerId: 'auto/p1.mp4',
      url: 'http://localhost:3000/media/auto/p1.mp4',
      bytes: 4,
      resourceType: 'video',
    });
    expect(await readdir(path.join(root, 'uploads'))).toEqual([]);
    expect(await store.promote(temporary, { folder: 'auto', publicId: 'p1', copy: false })).toEqual(promoted);
  });

  it('refuses a providerId that climbs out of MEDIA_DIR', async () => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    const evil = {
      provider: 'local' as const,
      providerId: '../../etc/passwd',
      url: '',
      bytes: 0,
      resourceType: 'image' as const,
      format: 'jpg',
    };
    await expect(store.delete(evil)).rejects.toThrow(/unsafe storage path/);
    await expect(store.promote(evil, { folder: 'auto', publicId: 'x', copy: false })).rejects.toThrow(
      /unsafe storage path/,
    );
  });

  it('fails an unsafe path for good: a ProviderError no retry can mend', async () => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    const error = await store
      .upload({ source: Buffer.from('x'), folder: '..', publicId: 'ok', format: 'jpg', resourceType: 'image' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: 'local', code: 'provider_rejected', retryable: false });
    const badId = {
      provider: 'local' as const,
      providerId: 'a/b/c.jpg',
      url: '',
      bytes: 0,
      resourceType: 'image' as const,
      format: 'jpg',
    };
    await expect(store.delete(badId)).rejects.toMatchObject({ code: 'provider_rejected', retryable: false });
    await expect(
      store.upload({ source: Buffer.from('x'), folder: 'ok', publicId: 'ok', format: '../jpg', resourceType: 'image' }),
    ).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/unsafe file extension/) });
  });
});
