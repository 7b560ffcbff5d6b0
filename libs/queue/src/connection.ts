import { Redis } from 'ioredis';

export type { Redis };

/**
 * Workers block on Redis and must wait through outages (BullMQ requires maxRetriesPerRequest: null).
 * The gateway instead fails fast, so a request answers 503 rather than hanging while Redis is away.
 */
export function createRedis(url: string, role: 'worker' | 'producer'): Redis {
  const redis =
    role === 'worker'
      ? new Redis(url, { maxRetriesPerRequest: null })
      : new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 });
  // While Redis is away ioredis reconnects by itself; each command that fails meanwhile reports it
  // (a 503, a worker 'error' event), so the connection's own error events need no second report.
  redis.on('error', () => {});
  return redis;
}
