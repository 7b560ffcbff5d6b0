import { type Redis, withTimeout } from '@mediaflow/queue';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../services/errors.ts';

/** Generation is expensive, so its budget is much tighter than writes', and writes' than reads'. */
export type RateClass = 'generate' | 'write' | 'read';

const WINDOW_MS = 60_000;
const LIMIT_CHECK_TIMEOUT_MS = 1_000;
/** A lease is this share of a limit, so that replicas holding unspent leases refuse little early. */
const LEASE_SHARE = 50;
const MAX_LEASE = 20;

/**
 * How many requests one call to Redis reserves for a user: 1 (every request counted in Redis) up to a
 * limit of 99 a minute, then a fiftieth of the limit, at most 20 — 12 for the default 600 reads.
 */
export function leaseSize(limit: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(limit / LEASE_SHARE)));
}

/**
 * Per-user fixed-window limits kept in Redis, so they hold across gateway replicas: no more than the
 * limit is ever admitted in a window. Over it: 429 with Retry-After. If Redis cannot be asked, the request
 * goes through: the limiter protects capacity, and a request that needs Redis will fail on its own.
 *
 * Each gateway reserves a user's requests a lease at a time (`leaseSize`) and admits the lease's rest
 * without asking Redis again: a poll is then one round trip, not two (the limiter's call was a fifth of
 * a poll's CPU). The cost is that requests another replica has reserved but not yet admitted are not
 * this one's to give: with R replicas a user may be refused up to R × (lease - 1) requests early.
 */
export function createRateLimitHook(options: { redis: Redis; prefix: string; limits: Record<RateClass, number> }) {
  // One command per lease (ioredis sends it as EVALSHA): reserve it, and start the window's expiry.
  options.redis.defineCommand('reserveRequests', {
    numberOfKeys: 1,
    lua: "local n = redis.call('INCRBY', KEYS[1], ARGV[2]) if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
  });
  const redis = options.redis as Redis & {
    reserveRequests(key: string, windowMs: number, count: number): Promise<number>;
  };
  // The current window's unspent leases, by class and user; emptied when the window turns.
  const leases = new Map<string, number>();
  let leaseWindow = 0;

  return async function rateLimit(request: FastifyRequest): Promise<void> {
    const rateClass = request.routeOptions.config.rateLimit ?? (request.method === 'GET' ? 'read' : 'write');
    if (rateClass === false) return;
    const now = Date.now();
    const window = Math.floor(now / WINDOW_MS);
    if (window !== leaseWindow) {
      leases.clear();
      leaseWindow = window;
    }
    const lease = `${rateClass}:${request.userId}`;
    const unspent = leases.get(lease) ?? 0;
    if (unspent > 0) {
      leases.set(lease, unspent - 1);
      return;
    }
    const limit = options.limits[rateClass];
    const size = leaseSize(limit);
    const key = `${options.prefix}:ratelimit:${rateClass}:${request.userId}:${window}`;
    let reserved: number;
    try {
      // A Redis that is reconnecting can leave the call pending: wait briefly, then let the request go.
      reserved = Number(
        await withTimeout(redis.reserveRequests(key, WINDOW_MS, size), LIMIT_CHECK_TIMEOUT_MS, 'Redis'),
      );
    } catch (error) {
      request.log.warn({ err: error }, 'rate limiter could not reach Redis; letting the request through');
      return;
    }
    // What of this lease is within the limit: all of it, part of it (the window's last), or none.
    const granted = Math.min(size, Math.max(0, limit - (reserved - size)));
    if (granted === 0) {
      throw new HttpError(429, 'rate_limited', `over ${limit} ${rateClass} requests a minute; slow down`, {
        retryAfterS: Math.ceil(((window + 1) * WINDOW_MS - now) / 1000),
      });
    }
    // This request takes one; the rest is kept (added to any lease a concurrent request took meanwhile).
    if (granted > 1 && window === leaseWindow) leases.set(lease, (leases.get(lease) ?? 0) + granted - 1);
  };
}
