import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { configureImageProcessing } from './image-processing.ts';

describe('configureImageProcessing', () => {
  const before = { concurrency: sharp.concurrency(), cache: sharp.cache() };
  afterAll(() => {
    sharp.concurrency(before.concurrency);
    sharp.cache({ memory: before.cache.memory.max, files: before.cache.files.max, items: before.cache.items.max });
  });

  it('gives each image one libvips thread and caches nothing', () => {
    configureImageProcessing();
    expect(sharp.concurrency()).toBe(1);
    expect(sharp.cache()).toMatchObject({ memory: { max: 0 }, files: { max: 0 }, items: { max: 0 } });
  });
});
