import type { BackoffStrategy } from 'bullmq';

/** BullMQ backoff type of the capped exponential schedule, which BullMQ has not built in (`backoffStrategy`). */
export const CAPPED_EXPONENTIAL = 'capped-exponential';
/** The longest wait between two tries of a capped schedule. */
export const MAX_BACKOFF_MS = 4 * 3_600_000;
/** Each wait is cut by up to this share at random, so retries that failed together spread out. */
const JITTER = 0.2;

/**
 * How a webhook delivery is retried: 15 tries in all; the first retry `delay` (WEBHOOK_BACKOFF_MS, 30 s)
 * after the first try, each wait twice the one before, up to 4 h. With 30 s: 0.5, 1, 2, 4, 8, 16, 32 and 64
 * minutes, 2 h 8 min, then 4 h five times; the last try comes about 24 h 15 min after the first (about
 * 19 h 25 min when the jitter cuts every wait by its most).
 */
export const WEBHOOK_ATTEMPTS = 15;

/** The wait before retry number `attemptsMade` (1 for the first retry): `delayMs` doubling, capped, jittered. */
export function cappedExponentialDelay(attemptsMade: number, delayMs: number, random: () => number = Math.random) {
  const full = Math.min(delayMs * 2 ** Math.max(0, attemptsMade - 1), MAX_BACKOFF_MS);
  return Math.round(full * (1 - JITTER * random()));
}

/** The worker runtime's strategy for backoff types BullMQ does not know: the capped exponential one. */
export const backoffStrategy: BackoffStrategy = (attemptsMade, type, _err, job) => {
  if (type !== CAPPED_EXPONENTIAL) throw new Error(`unknown backoff type ${type}`);
  const backoff = job?.opts.backoff;
  const delay = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : 30_000;
  return cappedExponentialDelay(attemptsMade, delay);
};
