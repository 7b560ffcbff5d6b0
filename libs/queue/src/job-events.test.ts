import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type Redis } from './connection.ts';
import { JobEventsSubscriber, jobEventsChannel, jobEventsPublisher } from './job-events.ts';

// The global setup (libs/testing) provides it; libs/queue cannot depend on @mediaflow/testing.
declare module 'vitest' {
  interface ProvidedContext {
    redisUrl: string;
  }
}

const prefixOf = () => `{mf-test-${randomBytes(4).toString('hex')}}`;
const ref = (jobId: string) => ({ ref: { jobId } });

/** Waits until `check` holds, or fails after `ms`. */
async function eventually(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** The subscriber connections Redis has for a prefix (the subscriber names its connection after it). */
async function subscriberClients(redis: Redis, prefix: string): Promise<string[]> {
  const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  return list.split('\n').filter((line) => line.includes(` name=job-events:${prefix} `));
}

describe('job events over Redis pub/sub', () => {
  let producer: Redis;
  let worker: Redis;
  const subscribers: JobEventsSubscriber[] = [];
  const subscriber = (prefix: string) => {
    const made = new JobEventsSubscriber({ connection: producer, prefix });
    subscribers.push(made);
    return made;
  };

  beforeAll(() => {
    // As the services make them: the gateway's fail-fast connection, the workers' patient one.
    producer = createRedis(inject('redisUrl'), 'producer');
    worker = createRedis(inject('redisUrl'), 'worker');
  });
  afterEach(() => {
    for (const made of subscribers.splice(0)) made.close();
  });
  afterAll(() => {
    producer.disconnect();
    worker.disconnect();
  });

  it("publishes a change as its job's id on the prefix's channel", async () => {
    const prefix = prefixOf();
    const listener = createRedis(inject('redisUrl'), 'worker');
    const messages: Array<[string, string]> = [];
    listener.on('message', (channel: string, message: string) => messages.push([channel, message]));
    await listener.subscribe(jobEventsChannel(prefix));
    const jobId = randomUUID();
    await jobEventsPublisher(worker, prefix)({ ref: { jobId, step: 2 }, ended: 'completed' });
    await eventually(() => messages.length === 1);
    expect(messages).toEqual([[`${prefix}:job-events`, jobId]]);
    listener.disconnect();
  });

  it("tells a job's listeners of its changes from the moment listen resolves, and no one else", async () => {
    const prefix = prefixOf();
    const events = subscriber(prefix);
    const [a, b] = [randomUUID(), randomUUID()];
    const heard: string[] = [];
    await events.listen(a, () => heard.push('a1'));
    await events.listen(a, () => heard.push('a2'));
    await events.listen(b, () => heard.push('b'));
    // Published at once, with no pause: the subscription is in place once listen has resolved.
    const publish = jobEventsPublisher(worker, prefix);
    await publish(ref(a));
    // Another prefix's channel (another deployment on the same Redis) is not heard.
    await jobEventsPublisher(worker, prefixOf())(ref(b));
    await eventually(() => heard.length >= 2);
    await sleep(50);
    expect(heard.sort()).toEqual(['a1', 'a2']);
    await publish(ref(b));
    await eventually(() => heard.includes('b'));
  });

  it('uses one Redis connection per process, whatever the number of listeners, and stops calling on unlisten', async () => {
    const prefix = prefixOf();
    const events = subscriber(prefix);
    const jobId = randomUUID();
    let calls = 0;
    const stops = await Promise.all(
      Array.from({ length: 50 }, (_, index) => events.listen(index === 0 ? jobId : randomUUID(), () => calls++)),
    );
    expect(events.listenerCount).toBe(50);
    expect(await subscriberClients(producer, prefix)).toHaveLength(1);

    const publish = jobEventsPublisher(worker, prefix);
    await publish(ref(jobId));
    await eventually(() => calls === 1);
    for (const stop of stops) stop();
    stops[0]?.();
    expect(events.listenerCount).toBe(0);
    await publish(ref(jobId));
    await sleep(100);
    expect(calls).toBe(1);

    events.close();
    await eventually(() => calls === 1);
    await expect(events.listen(jobId, () => {})).rejects.toThrow(/closed/);
  });

  it('tells every listener to read again after its connection was lost, and keeps hearing changes', async () => {
    const prefix = prefixOf();
    const events = subscriber(prefix);
    const jobId = randomUUID();
    let calls = 0;
    await events.listen(jobId, () => calls++);
    const [client] = await subscriberClients(producer, prefix);
    const id = client?.match(/\bid=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await producer.call('CLIENT', 'KILL', 'ID', String(id));
    // Nothing was published: the call is the "you may have missed something" after the reconnection.
    await eventually(() => calls === 1);
    await jobEventsPublisher(worker, prefix)(ref(jobId));
    await eventually(() => calls === 2);
    expect(await subscriberClients(producer, prefix)).toHaveLength(1);
  });

  it('refuses to listen when Redis cannot be reached in time, and tries again on the next call', async () => {
    const unreachable = createRedis('redis://127.0.0.1:1', 'producer');
    const events = new JobEventsSubscriber({ connection: unreachable, prefix: prefixOf(), subscribeTimeoutMs: 200 });
    await expect(events.listen(randomUUID(), () => {})).rejects.toThrow(/did not answer within 200 ms/);
    await expect(events.listen(randomUUID(), () => {})).rejects.toThrow(/did not answer within 200 ms/);
    events.close();
    unreachable.disconnect();
  });

  it('gives up publishing rather than holding the worker while Redis is away', async () => {
    const unreachable = createRedis('redis://127.0.0.1:1', 'worker');
    const started = Date.now();
    await expect(jobEventsPublisher(unreachable, prefixOf())(ref(randomUUID()))).rejects.toThrow(
      /could not publish to Redis within 2000 ms/,
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    unreachable.disconnect();
  });
});
