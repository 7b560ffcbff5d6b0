import { randomUUID } from 'node:crypto';
import type { Redis } from '@mediaflow/queue';
import { withTimeout } from '@mediaflow/queue';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../services/errors.ts';

/** An upload slot frees as soon as any of the user's uploads ends; a few seconds is a fair wait. */
const RETRY_AFTER_S = 5;
const SLOT_CHECK_TIMEOUT_MS = 1_000;

/**
 * MAX_UPLOADS_IN_FLIGHT: the requests carrying a user's files (multipart submissions, tus POST and PATCH)
 * one user may have open at once, counted in Redis so that the limit holds across gateway replicas.
 * Each open request is a member of the user's sorted set, scored by when it must have ended (the request
 * timeout): a replica that dies mid-request leaves a slot that frees itself. One script takes a slot or
 * refuses, atomically; the slot is given back when the response is done with, however it ends. Over the
 * limit: 429 with Retry-After. If Redis cannot be asked, the upload goes through, as with the rate limits.
 */
export function createUploadSlots(options: { redis: Redis; prefix: string; max: number; requestTimeoutMs: number }) {
  options.redis.defineCommand('takeUploadSlot', {
    numberOfKeys: 1,
    // Redis's own clock, so that replicas' clocks need not agree.
    lua: `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  });
  const redis = options.redis as Redis & {
    takeUploadSlot(key: string, max: number, ttlMs: number, member: string): Promise<number>;
  };

  /** Takes one of the caller's upload slots for this request (an onRequest hook, after authentication). */
  return async function takeUploadSlot(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const key = `${options.prefix}:uploads-in-flight:${request.userId}`;
    const member = randomUUID();
    let taken: number;
    try {
      taken = await withTimeout(
        redis.takeUploadSlot(key, options.max, options.requestTimeoutMs, member),
        SLOT_CHECK_TIMEOUT_MS,
        'Redis',
      );
    } catch (error) {
      request.log.warn({ err: error }, 'upload slots could not reach Redis; letting the upload through');
      return;
    }
    if (taken !== 1) {
      throw new HttpError(
        429,
        'rate_limited',
        `you already have ${options.max} uploads in flight; wait for one to finish`,
        { retryAfterS: RETRY_AFTER_S },
      );
    }
    reply.raw.once('close', () => {
      redis
        .zrem(key, member)
        .catch((error: unknown) => request.log.warn({ err: error }, 'could not free an upload slot'));
    });
  };
}
