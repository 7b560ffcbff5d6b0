import type { AspectRatio } from '@mediaflow/domain';

/** Pixel sizes close to 1 megapixel per ratio, as the image models produce at their default size. */
export const DEFAULT_SIZES: Record<AspectRatio, { width: number; height: number }> = {
  '1:1': { width: 1024, height: 1024 },
  '16:9': { width: 1344, height: 756 },
  '9:16': { width: 756, height: 1344 },
  '4:3': { width: 1152, height: 864 },
  '3:4': { width: 864, height: 1152 },
};
