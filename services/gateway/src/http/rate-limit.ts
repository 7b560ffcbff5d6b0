import { type Redis, withTimeout } from '@mediaflow/queue';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../services/errors.ts';

/** Generation is expensive, so its budget is much tighter than writes', and writes' than reads'. */
export type RateClass = 'generate' | 'write' | 'read';

const WINDOW_MS = 60_000;
const LIMIT_CHECK_TIMEOUT_MS = 1_000;

/**
 * Per-user fixed-window limits kept in Redis, so they hold across gateway replicas. Over the limit:
 * 429 with Retry-After. If Redis cannot be asked, the request goes through: the limiter protects
 * capacity, and a request that needs Redis will fail on its own.
 */
export function createRateLimitHook(options: { redis: Redis; prefix: string; limits: Record<RateClass, number> }) {
  // One command per request (ioredis sends it as EVALSHA): count it, and start the window's expiry.
  options.redis.defineCommand('countRequest', {
    numberOfKeys: 1,
    lua: "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
  });
  const redis = options.redis as Redis & { countRequest(key: string, windowMs: number): Promise<number> };
  return async function rateLimit(request: FastifyRequest): Promise<void> {
    const rateClass = request.routeOptions.config.rateLimit ?? (request.method === 'GET' ? 'read' : 'write');
    if (rateClass === false) return;
    const now = Date.now();
    const window = Math.floor(now / WINDOW_MS);
    const key = `${options.prefix}:ratelimit:${rateClass}:${request.userId}:${window}`;
    let count: number;
    try {
      // A Redis that is reconnecting can leave the call pending: wait briefly, then let the request go.
      count = Number(await withTimeout(redis.countRequest(key, WINDOW_MS), LIMIT_CHECK_TIMEOUT_MS, 'Redis'));
    } catch (error) {
      request.log.warn({ err: error }, 'rate limiter could not reach Redis; letting the request through');
      return;
    }
    const limit = options.limits[rateClass];
    if (count > limit) {
      throw new HttpError(429, 'rate_limited', `over ${limit} ${rateClass} requests a minute; slow down`, {
        retryAfterS: Math.ceil(((window + 1) * WINDOW_MS - now) / 1000),
      });
    }
  };
}
