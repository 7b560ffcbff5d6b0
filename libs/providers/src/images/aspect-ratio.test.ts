import { describe, expect, it } from 'vitest';
import { nearestAspectRatio } from './aspect-ratio.ts';

describe('nearestAspectRatio', () => {
  it.each([
    [1, 1, '1:1'],
    [16, 9, '16:9'],
    [9, 16, '9:16'],
    [4, 3, '4:3'],
    [3, 4, '3:4'],
    [1920, 1080, '16:9'],
    [1080, 1920, '9:16'],
    [1000, 1000, '1:1'],
    [1600, 1200, '4:3'],
    [1200, 1600, '3:4'],
    [3000, 1000, '16:9'],
    [1000, 3000, '9:16'],
    [1921, 1080, '16:9'],
    [1919, 1080, '16:9'],
    [1001, 1000, '1:1'],
    [1000, 1001, '1:1'],
    [1601, 1200, '4:3'],
    [1200, 1599, '3:4'],
    [1024, 768, '4:3'],
    [768, 1024, '3:4'],
  ] as const)('%i x %i -> %s', (width, height, expected) => {
    expect(nearestAspectRatio(width, height)).toBe(expected);
  });

  it('splits between neighbours at the geometric mean, not the arithmetic one', () => {
    // sqrt(4/3 * 16/9) = 1.5396: just below goes to 4:3, just above to 16:9.
    expect(nearestAspectRatio(1539, 1000)).toBe('4:3');
    expect(nearestAspectRatio(1541, 1000)).toBe('16:9');
    // sqrt(1 * 4/3) = 1.1547
    expect(nearestAspectRatio(1154, 1000)).toBe('1:1');
    expect(nearestAspectRatio(1156, 1000)).toBe('4:3');
  });

  it('rejects empty dimensions', () => {
    expect(() => nearestAspectRatio(0, 100)).toThrow(RangeError);
  });
});
