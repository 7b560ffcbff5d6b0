import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
      data: Buffer.from('bytes'),
      folder: 'ai-generated-images',
      publicId: 'ai-generated-1-abc',
      format: 'jpg',
    });
    expect(stored).toEqual({
      provider: 'local',
      providerId: 'ai-generated-images/ai-generated-1-abc.jpg',
      url: 'http://localhost:3000/media/ai-generated-images/ai-generated-1-abc.jpg',
      bytes: 5,
    });
    expect(await readFile(path.join(root, stored.providerId), 'utf8')).toBe('bytes');
    expect(await readdir(path.join(root, 'ai-generated-images'))).toEqual(['ai-generated-1-abc.jpg']);
  });

  it.each(['../escape', 'a/b', '..', '', '.hidden'])('refuses the path segment %j', async (segment) => {
    const store = new LocalDiskStore({ root, publicUrl: 'http://localhost:3000' });
    await expect(
      store.upload({ data: Buffer.from('x'), folder: 'ai-generated-images', publicId: segment, format: 'jpg' }),
    ).rejects.toThrow(/unsafe storage path segment/);
    await expect(
      store.upload({ data: Buffer.from('x'), folder: segment, publicId: 'ok', format: 'jpg' }),
    ).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });
});
