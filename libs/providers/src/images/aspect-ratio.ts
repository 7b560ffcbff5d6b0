import { ASPECT_RATIOS, type AspectRatio } from '@mediaflow/domain';

export function ratioValue(ratio: AspectRatio): number {
  const [w, h] = ratio.split(':').map(Number) as [number, number];
  return w / h;
}

/**
 * The offered ratio nearest to width:height, by distance on a log scale so that 2:1 and 1:2 are
 * equally far from 1:1. Ties go to the earlier ratio in ASPECT_RATIOS.
 */
export function nearestAspectRatio(width: number, height: number): AspectRatio {
  if (!(width > 0 && height > 0)) throw new RangeError(`image dimensions must be positive (got ${width}x${height})`);
  const target = Math.log(width / height);
  let best: AspectRatio = '1:1';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const ratio of ASPECT_RATIOS) {
    const distance = Math.abs(Math.log(ratioValue(ratio)) - target);
    if (distance < bestDistance - 1e-12) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}
