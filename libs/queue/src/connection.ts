import { Cluster, Redis as SingleRedis } from 'ioredis';

/** A connection to Redis: one server, or a Redis Cluster (REDIS_CLUSTER=true). */
export type Redis = SingleRedis | Cluster;

/**
 * Workers block on Redis and must wait through outages (BullMQ requires maxRetriesPerRequest: null).
 * The gateway instead fails fast, so a request answers 503 rather than hanging while Redis is away.
 * With `cluster`, `url` is any one node of the cluster; the others are discovered from it.
 */
export function createRedis(url: string, role: 'worker' | 'producer', cluster = false): Redis {
  const maxRetriesPerRequest = role === 'worker' ? null : 1;
  const redis = cluster
    ? clusterFrom(url, maxRetriesPerRequest)
    : role === 'worker'
      ? new SingleRedis(url, { maxRetriesPerRequest })
      : new SingleRedis(url, { maxRetriesPerRequest, enableOfflineQueue: false, connectTimeout: 5_000 });
  // While Redis is away ioredis reconnects by itself; each command that fails meanwhile reports it
  // (a 503, a worker 'error' event), so the connection's own error events need no second report.
  redis.on('error', () => {});
  return redis;
}

/**
 * Commands wait while the cluster's slot map loads (at start, after a failover), so the offline queue
 * stays on; the gateway still answers 503 in time, as its Redis calls have deadlines of their own.
 */
function clusterFrom(url: string, maxRetriesPerRequest: number | null): Cluster {
  const { hostname, port, username, password, protocol } = new URL(url);
  return new Cluster([{ host: hostname, port: Number(port || 6379) }], {
    redisOptions: {
      maxRetriesPerRequest,
      connectTimeout: 5_000,
      ...(username ? { username: decodeURIComponent(username) } : {}),
      ...(password ? { password: decodeURIComponent(password) } : {}),
      ...(protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}
