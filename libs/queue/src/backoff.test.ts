import { describe, expect, it } from 'vitest';
import {
  backoffStrategy,
  CAPPED_EXPONENTIAL,
  cappedExponentialDelay,
  MAX_BACKOFF_MS,
  WEBHOOK_ATTEMPTS,
} from './backoff.ts';

const HOUR = 3_600_000;

describe('the capped exponential backoff of webhook deliveries', () => {
  it('doubles from the first delay up to 4 h, and retries for about a day in 15 tries', () => {
    const noJitter = () => 0;
    const waits = Array.from({ length: WEBHOOK_ATTEMPTS - 1 }, (_, i) =>
      cappedExponentialDelay(i + 1, 30_000, noJitter),
    );
    expect(waits.slice(0, 9)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3840, 7680].map((s) => s * 1000));
    expect(waits.slice(9)).toEqual(Array(5).fill(MAX_BACKOFF_MS));
    const total = waits.reduce((sum, wait) => sum + wait, 0);
    expect(total).toBe(87_330_000);
    expect(total).toBeGreaterThan(24 * HOUR);
    expect(total).toBeLessThan(24.5 * HOUR);
    // The jitter cuts each wait by a fifth at most: the last try still comes more than 19 h after the first.
    const shortest = Array.from({ length: WEBHOOK_ATTEMPTS - 1 }, (_, i) =>
      cappedExponentialDelay(i + 1, 30_000, () => 1),
    );
    expect(shortest.reduce((sum, wait) => sum + wait, 0)).toBeGreaterThan(19 * HOUR);
  });

  it('is what the worker runtime hands BullMQ for the capped type, with the delay the job was given', () => {
    const job = { opts: { backoff: { type: CAPPED_EXPONENTIAL, delay: 100 } } } as never;
    const wait = backoffStrategy(3, CAPPED_EXPONENTIAL, undefined, job) as number;
    expect(wait).toBeGreaterThanOrEqual(320);
    expect(wait).toBeLessThanOrEqual(400);
    expect(() => backoffStrategy(1, 'mystery', undefined, job)).toThrow(/unknown backoff type mystery/);
  });
});
