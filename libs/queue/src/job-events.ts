import { Cluster } from 'ioredis';
import type { Redis } from './connection.ts';
import { withTimeout } from './timeout.ts';
import type { JobChange } from './worker.ts';

/** A change is announced within this long or not at all: a Redis outage must never hold a job's worker. */
const PUBLISH_TIMEOUT_MS = 2_000;
/** A stream that cannot be sure to hear of changes within this long answers 503 instead. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/**
 * The pub/sub channel on which a queue prefix's workers announce that a job's recorded state changed.
 * The message is only the job's id: listeners read the state itself from PostgreSQL.
 */
export function jobEventsChannel(prefix: string): string {
  return `${prefix}:job-events`;
}

/**
 * For a worker's `onChange`: announces a committed change of a job (or of one of its steps) to every
 * gateway, as that job's id. It fails after PUBLISH_TIMEOUT_MS rather than waiting out a Redis outage
 * (the worker logs it and carries on; a stream that misses it hears the next change, or reconnects).
 */
export function jobEventsPublisher(connection: Redis, prefix: string): (change: JobChange) => Promise<void> {
  const channel = jobEventsChannel(prefix);
  return async (change) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`could not publish to Redis within ${PUBLISH_TIMEOUT_MS} ms`)),
        PUBLISH_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([connection.publish(channel, change.ref.jobId), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Told that the job it listens to may have changed: it should read the job again. */
export type JobChangeListener = () => void;

export interface JobEventsSubscriberOptions {
  /** Any connection to the Redis the workers publish on; the subscriber makes its own from it. */
  connection: Redis;
  prefix: string;
  subscribeTimeoutMs?: number;
}

/**
 * A gateway's ear for job changes: ONE Redis subscriber connection per process, whatever the number of
 * streams, fanning each announcement out in-process to the listeners of that job. The connection is made
 * on the first `listen` and subscribed once. After a reconnection (Redis restarted, a failover), every
 * listener is told to read its job again, as announcements made while it was away are lost.
 */
export class JobEventsSubscriber {
  private readonly options: JobEventsSubscriberOptions;
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<JobChangeListener>>();
  private connection: Redis | undefined;
  private subscribed: Promise<void> | undefined;
  private closed = false;

  constructor(options: JobEventsSubscriberOptions) {
    this.options = options;
    this.channel = jobEventsChannel(options.prefix);
  }

  /**
   * Calls `listener` on every announced change of job `jobId`, from the moment it resolves: the
   * subscription is then in place, so a read of the job made after it misses nothing. Answers the
   * function that stops listening. Rejects when Redis cannot be subscribed to in time.
   */
  async listen(jobId: string, listener: JobChangeListener): Promise<() => void> {
    if (this.closed) throw new Error('the job events subscriber is closed');
    await this.subscribe();
    let listeners = this.listeners.get(jobId);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(jobId, listeners);
    }
    listeners.add(listener);
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      const current = this.listeners.get(jobId);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(jobId);
    };
  }

  /** Listeners in place, over every job (for tests and gauges). */
  get listenerCount(): number {
    let count = 0;
    for (const listeners of this.listeners.values()) count += listeners.size;
    return count;
  }

  /** Drops every listener and the connection. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    const connection = this.connection;
    this.connection = undefined;
    this.subscribed = undefined;
    // Not QUIT: with Redis away, it would wait in the offline queue.
    connection?.disconnect();
  }

  private subscribe(): Promise<void> {
    if (!this.subscribed) {
      const attempt = withTimeout(
        this.connect().subscribe(this.channel),
        this.options.subscribeTimeoutMs ?? SUBSCRIBE_TIMEOUT_MS,
        'Redis',
      ).then(() => undefined);
      // A failed attempt is not remembered: the next stream tries again.
      attempt.catch(() => {
        if (this.subscribed === attempt) this.subscribed = undefined;
      });
      this.subscribed = attempt;
    }
    return this.subscribed;
  }

  private connect(): Redis {
    if (this.connection) return this.connection;
    const connection = subscriberConnection(this.options.connection, this.options.prefix);
    connection.on('message', (channel: string, jobId: string) => {
      if (channel === this.channel) this.notify(this.listeners.get(jobId));
    });
    let connectedBefore = false;
    connection.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      // Back after an outage (ioredis subscribes again by itself; this makes sure of it before the
      // reads): anything announced meanwhile was lost, so every job is read again.
      connection.subscribe(this.channel).then(
        () => {
          for (const listeners of this.listeners.values()) this.notify(listeners);
        },
        () => {},
      );
    });
    this.connection = connection;
    return connection;
  }

  private notify(listeners: Set<JobChangeListener> | undefined): void {
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A listener's own failure is its own business; the others still hear.
      }
    }
  }
}

/**
 * A connection of its own for SUBSCRIBE (a subscribed connection can do nothing else), which, unlike the
 * gateway's fail-fast one, waits for Redis while it connects and reconnects.
 */
function subscriberConnection(from: Redis, prefix: string): Redis {
  const connectionName = `job-events:${prefix}`.replace(/\s/g, '_');
  const connection =
    from instanceof Cluster
      ? from.duplicate(undefined, { redisOptions: { ...from.options.redisOptions, connectionName } })
      : from.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, connectionName });
  connection.on('error', () => {});
  return connection;
}
