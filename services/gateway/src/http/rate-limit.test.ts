import { createRedis } from '@mediaflow/queue';
import { createTestRedis, type TestRedis } from '@mediaflow/testing';
import type { FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRateLimitHook, leaseSize, type RateClass } from './rate-limit.ts';

const LIMITS: Record<RateClass, number> = { generate: 3, write: 60, read: 600 };

/** What the hook reads of a request. */
function request(userId: string, method = 'GET', warn = vi.fn()): FastifyRequest {
  return { userId, method, routeOptions: { config: {} }, log: { warn } } as unknown as FastifyRequest;
}

/** Sends `count` requests through `hooks` in turn: how many were admitted, how many refused with 429. */
async function admitted(
  hooks: Array<(request: FastifyRequest) => Promise<void>>,
  userId: string,
  count: number,
  method = 'GET',
) {
  const outcomes = { admitted: 0, refused: 0 };
  for (let i = 0; i < count; i++) {
    const hook = hooks[i % hooks.length] as (request: FastifyRequest) => Promise<void>;
    try {
      await hook(request(userId, method));
      outcomes.admitted++;
    } catch (error) {
      expect(error).toMatchObject({ statusCode: 429, code: 'rate_limited' });
      outcomes.refused++;
    }
  }
  return outcomes;
}

describe('createRateLimitHook', () => {
  let redis: TestRedis;
  let users = 0;
  const user = () => `user-${++users}`;

  beforeAll(async () => {
    redis = createTestRedis();
    // The producer connection fails calls until it is ready, and a failed call lets the request through.
    if (redis.producer.status !== 'ready') await new Promise((resolve) => redis.producer.once('ready', resolve));
  });
  afterAll(() => redis.cleanup());
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('leases 1 request a call up to a limit of 99 a minute, then a fiftieth of it, at most 20', () => {
    expect([1, 3, 60, 99, 100, 600, 1_000, 1_000_000].map(leaseSize)).toEqual([1, 1, 1, 1, 2, 12, 20, 20]);
  });

  it('admits exactly the limit in a window, asking Redis once a lease, and answers 429 with Retry-After after it', async () => {
    const hook = createRateLimitHook({ redis: redis.producer, prefix: redis.prefix, limits: LIMITS });
    const reserve = vi.spyOn(redis.producer as never as { reserveRequests: () => Promise<number> }, 'reserveRequests');
    const reader = user();
    expect(await admitted([hook], reader, 650)).toEqual({ admitted: 600, refused: 50 });
    // 50 leases of 12, then one refused call per request over the limit.
    expect(reserve.mock.calls.length).toBe(50 + 50);

    const writer = user();
    expect(await admitted([hook], writer, 61, 'POST')).toEqual({ admitted: 60, refused: 1 });
    const refused = await hook(request(writer, 'POST')).catch((error: unknown) => error);
    expect(refused).toMatchObject({ statusCode: 429 });
    expect((refused as { retryAfterS: number }).retryAfterS).toBeGreaterThan(0);
    expect((refused as { retryAfterS: number }).retryAfterS).toBeLessThanOrEqual(60);
  });

  it('holds the limit across replicas: never more, and at most replicas × (lease - 1) fewer', async () => {
    const replicas = [1, 2, 3].map(() =>
      createRateLimitHook({ redis: redis.producer, prefix: redis.prefix, limits: LIMITS }),
    );
    const { admitted: count } = await admitted(replicas, user(), 700);
    expect(count).toBeLessThanOrEqual(600);
    expect(count).toBeGreaterThanOrEqual(600 - 3 * (leaseSize(600) - 1));
  });

  it('keeps users and classes apart, and starts afresh when the window turns', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-27T10:00:05Z'));
    const hook = createRateLimitHook({ redis: redis.producer, prefix: redis.prefix, limits: LIMITS });
    const first = user();
    expect(await admitted([hook], first, 700)).toMatchObject({ admitted: 600 });
    expect(await admitted([hook], user(), 10)).toMatchObject({ admitted: 10 });
    await expect(hook(request(first, 'POST'))).resolves.toBeUndefined();
    vi.setSystemTime(new Date('2026-11-27T10:01:00Z'));
    expect(await admitted([hook], first, 10)).toMatchObject({ admitted: 10 });
  });

  it('lets requests through when Redis cannot be asked, and says so in the log', async () => {
    const away = createRedis('redis://127.0.0.1:1', 'producer');
    try {
      const hook = createRateLimitHook({ redis: away, prefix: redis.prefix, limits: LIMITS });
      const warn = vi.fn();
      await expect(hook(request(user(), 'GET', warn))).resolves.toBeUndefined();
      expect(warn).toHaveBeenCalledWith(expect.anything(), expect.stringContaining('could not reach Redis'));
    } finally {
      away.disconnect();
    }
  });
});
