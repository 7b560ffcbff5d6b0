import { setTimeout as sleep } from 'node:timers/promises';
import { buildServer, EventsTokens } from '@mediaflow/gateway';
import { generatorService } from '@mediaflow/generator';
import { createLogger } from '@mediaflow/logger';
import { persistenceService } from '@mediaflow/persistence';
import { buildMediaStore } from '@mediaflow/providers';
import { createRedis, type Redis } from '@mediaflow/queue';
import { type RunningWorkerService, startWorkerService } from '@mediaflow/runtime';
import { storageService } from '@mediaflow/storage';
import { makeImage, signToken, sparePort } from '@mediaflow/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type JobStatus, type Stack, startStack } from './stack.ts';

interface SseEvent {
  event?: string;
  id?: string;
  data: string;
}

/** A text/event-stream read as it comes, as an EventSource would (fetch sends the headers it is given). */
interface EventStream {
  response: Response;
  events: SseEvent[];
  comments: string[];
  /** The statuses of the events so far. */
  statuses(): JobStatus[];
  /** Resolves when the server has ended the stream. */
  ended: Promise<void>;
  waitFor(check: () => boolean, ms?: number): Promise<void>;
  /** The client goes away. */
  close(): void;
}

async function openEvents(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const read = async () => {
    if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments.push(line.slice(1).trim());
              continue;
            }
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            isEvent = true;
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') event.data += value;
          }
          if (isEvent) events.push(event);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  };
  const ended = read();
  return {
    response,
    events,
    comments,
    statuses: () => events.map((event) => JSON.parse(event.data) as JobStatus),
    ended,
    waitFor: async (check, ms = 10_000) => {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`not in time; events so far: ${JSON.stringify(events)}`);
        await sleep(10);
      }
    },
    close: () => controller.abort(),
  };
}

async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const EVENTS_URL = /^\/api\/jobs\/([0-9a-f-]{36})\/events\?token=([\w-]+\.[\w-]+\.[\w-]+)$/;

describe('live job events (server-sent events)', () => {
  let stack: Stack;
  // The workers run only once a test has opened its streams, so that every job is seen queued first
  // (pausing BullMQ workers still lets each take the one job it was already waiting for).
  const workers: RunningWorkerService[] = [];
  const connections: Redis[] = [];
  const startWorkers = () => {
    const connection = createRedis(stack.redis.url, 'worker');
    connections.push(connection);
    const clients = {
      config: stack.config,
      db: stack.database.db,
      logger: createLogger({ service: 'test', level: 'silent' }),
      queues: stack.queues,
      connection,
    };
    workers.push(
      startWorkerService(generatorService, clients, { background: false }),
      startWorkerService(storageService, clients, { background: false }),
      startWorkerService(persistenceService, clients, { background: false }),
    );
  };

  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
    for (const connection of connections.splice(0)) connection.disconnect();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const bearer = async (user = 'alice') => ({ authorization: `Bearer ${await signToken(user)}` });

  /** A generation accepted while the workers are paused: it stays queued until they resume. */
  async function acceptGeneration(user = 'alice'): Promise<{ jobId: string; eventsUrl: string }> {
    const response = await stack.request('POST', '/api/ai-agent/generate-image', {
      user,
      json: { prompt: 'a lighthouse at dusk' },
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { jobId: string; statusUrl: string; eventsUrl: string };
    expect(body.statusUrl).toBe(`/api/jobs/${body.jobId}`);
    expect(body.eventsUrl).toMatch(EVENTS_URL);
    expect(body.eventsUrl.match(EVENTS_URL)?.[1]).toBe(body.jobId);
    return body;
  }

  /** GET /api/jobs/:id's body and ETag, to compare an event with. */
  async function polled(jobId: string, user = 'alice'): Promise<{ body: string; etag: string }> {
    const response = await stack.request('GET', `/api/jobs/${jobId}`, { user });
    expect(response.status).toBe(200);
    return { body: await response.text(), etag: String(response.headers.get('etag')) };
  }

  const openStreams = async (baseUrl = stack.baseUrl): Promise<number> => {
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    return Number(metrics.match(/^mediaflow_job_event_streams (\d+)$/m)?.[1]);
  };

  it('follows a generation from accept to completed with the bearer header, and ends', async () => {
    const { jobId } = await acceptGeneration();
    const stream = await openEvents(`${stack.baseUrl}/api/jobs/${jobId}/events`, await bearer());
    expect(stream.response.status).toBe(200);
    const headers = stream.response.headers;
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(headers.get('cache-control')).toBe('no-cache');
    expect(headers.get('connection')).toBe('keep-alive');
    // The API's security headers go out as on every answer.
    expect(headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('x-request-id')).toBeTruthy();

    await stream.waitFor(() => stream.events.length === 1);
    expect(stream.events[0]?.event).toBe('status');
    expect(stream.statuses()[0]).toMatchObject({ jobId, kind: 'generate-image', status: 'queued' });
    // The first event is the job as GET /api/jobs/:id answers it, with its ETag as id.
    const first = await polled(jobId);
    expect(stream.events[0]?.data).toBe(first.body);
    expect(`"${stream.events[0]?.id}"`).toBe(first.etag);

    startWorkers();
    await within(stream.ended, 15_000, 'the stream ends');
    const statuses = stream.statuses().map((job) => job.status);
    expect(statuses.at(-1)).toBe('completed');
    expect(statuses.filter((status) => status === 'completed')).toHaveLength(1);
    expect(statuses.every((status) => ['queued', 'active', 'completed'].includes(status))).toBe(true);
    expect(stream.events.every((event) => event.event === 'status')).toBe(true);
    // No state twice in a row.
    const ids = stream.events.map((event) => event.id);
    expect(ids.every((id, index) => index === 0 || id !== ids[index - 1])).toBe(true);
    const last = await polled(jobId);
    expect(stream.events.at(-1)?.data).toBe(last.body);
    expect(`"${stream.events.at(-1)?.id}"`).toBe(last.etag);
    expect(stream.statuses().at(-1)?.result).toMatchObject({ provider: 'local', format: 'jpg' });
    await expect.poll(() => openStreams()).toBe(0);
  });

  it("follows a job with its eventsUrl's token and no header at all, as a browser's EventSource does", async () => {
    const { eventsUrl } = await acceptGeneration();
    const stream = await openEvents(`${stack.baseUrl}${eventsUrl}`);
    expect(stream.response.status).toBe(200);
    await stream.waitFor(() => stream.events.length === 1);
    expect(stream.statuses()[0]?.status).toBe('queued');
    startWorkers();
    await within(stream.ended, 15_000, 'the stream ends');
    expect(stream.statuses().at(-1)?.status).toBe('completed');
  });

  it("is 404 for another user's job, and 401 for a token of another job, an expired one, or anywhere else", async () => {
    const a = await acceptGeneration();
    const b = await acceptGeneration();
    const expectError = async (response: Response, status: number, code: string, message?: RegExp) => {
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      if (message) expect(body.error.message).toMatch(message);
    };
    const tokenOf = (url: string) => url.split('token=')[1] ?? '';

    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}/events`, { headers: await bearer('bob') }),
      404,
      'not_found',
    );
    // Bob's own events token (for his job) opens nothing of Alice's.
    const bobs = await acceptGeneration('bob');
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}/events?token=${tokenOf(bobs.eventsUrl)}`),
      401,
      'unauthorized',
      /another job/,
    );
    // A's token opens A's events only (401: the token is not valid here; which jobs exist is not told).
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${b.jobId}/events?token=${tokenOf(a.eventsUrl)}`),
      401,
      'unauthorized',
      /another job/,
    );
    const expired = await new EventsTokens(stack.config.eventsTokenSecret, {
      now: () => Date.now() - 16 * 60_000,
    }).eventsUrl('alice', a.jobId);
    await expectError(await fetch(`${stack.baseUrl}${expired}`), 401, 'unauthorized', /expired/);
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}/events?token=not.a.token`),
      401,
      'unauthorized',
    );
    // Not a bearer token: neither on another route nor as the header...
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}?token=${tokenOf(a.eventsUrl)}`),
      401,
      'unauthorized',
    );
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}`, {
        headers: { authorization: `Bearer ${tokenOf(a.eventsUrl)}` },
      }),
      401,
      'unauthorized',
    );
    // ...and a bearer token is no events token.
    await expectError(
      await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}/events?token=${await signToken('alice')}`),
      401,
      'unauthorized',
    );
    await expectError(await fetch(`${stack.baseUrl}/api/jobs/${a.jobId}/events`), 401, 'unauthorized');
    startWorkers();
    for (const job of [a, b, bobs]) await stack.waitForJob(job.jobId, job === bobs ? 'bob' : 'alice');
  });

  it('gives an Idempotency-Key replay a fresh eventsUrl, which works', async () => {
    const key = `events-${Date.now()}`;
    const post = () =>
      stack.request('POST', '/api/ai-agent/generate-image', {
        user: 'alice',
        json: { prompt: 'a quiet harbour' },
        headers: { 'idempotency-key': key },
      });
    const first = (await (await post()).json()) as { jobId: string; eventsUrl: string };
    await sleep(1_100);
    const replay = await post();
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const again = (await replay.json()) as { jobId: string; eventsUrl: string };
    expect(again.jobId).toBe(first.jobId);
    expect(again.eventsUrl).toMatch(EVENTS_URL);
    expect(again.eventsUrl).not.toBe(first.eventsUrl);
    const stream = await openEvents(`${stack.baseUrl}${again.eventsUrl}`);
    expect(stream.response.status).toBe(200);
    startWorkers();
    await within(stream.ended, 15_000, 'the stream ends');
    expect(stream.statuses().at(-1)?.status).toBe('completed');
  });

  it('skips the state the client has (Last-Event-ID), and answers 204 once that is the final one', async () => {
    const { jobId } = await acceptGeneration();
    const url = `${stack.baseUrl}/api/jobs/${jobId}/events`;
    const first = await openEvents(url, await bearer());
    await first.waitFor(() => first.events.length === 1);
    first.close();
    const seen = first.events[0]?.id ?? '';
    // The client goes away: the gateway stops following the job.
    await expect.poll(() => openStreams()).toBe(0);

    const resumed = await openEvents(url, { ...(await bearer()), 'last-event-id': seen });
    expect(resumed.response.status).toBe(200);
    // The headers went out (with a comment) though there is nothing new to send.
    await resumed.waitFor(() => resumed.comments.length === 1);
    await sleep(300);
    expect(resumed.events).toEqual([]);
    startWorkers();
    await within(resumed.ended, 15_000, 'the stream ends');
    expect(resumed.events.map((event) => event.id)).not.toContain(seen);
    expect(resumed.statuses().at(-1)?.status).toBe('completed');

    const final = resumed.events.at(-1)?.id ?? '';
    const done = await fetch(url, { headers: { ...(await bearer()), 'last-event-id': final } });
    expect(done.status).toBe(204);
    // An older id: the final state at once, and the end.
    const late = await openEvents(url, { ...(await bearer()), 'last-event-id': seen });
    await within(late.ended, 5_000, 'the stream ends');
    expect(late.events.map((event) => event.id)).toEqual([final]);
  });

  it("shows a post's steps as each one changes", async () => {
    const brand = await stack.request('POST', '/api/brands', { user: 'alice', json: { name: 'Acme' } });
    const { id: brandId } = (await brand.json()) as { id: string };
    const form = new FormData();
    form.append('caption', 'Launch day');
    form.append('brandId', brandId);
    form.append('media', new Blob([await makeImage(320, 240, 'png')]), 'first.png');
    form.append('media', new Blob([await makeImage(240, 320, 'jpeg')]), 'second.jpg');
    const response = await stack.request('POST', '/api/posts', { user: 'alice', form });
    expect(response.status).toBe(202);
    const { jobId, eventsUrl } = (await response.json()) as { jobId: string; eventsUrl: string };
    expect(eventsUrl).toMatch(EVENTS_URL);

    const stream = await openEvents(`${stack.baseUrl}/api/jobs/${jobId}/events`, await bearer());
    expect(stream.response.status).toBe(200);
    await stream.waitFor(() => stream.events.length === 1);
    expect(stream.statuses()[0]).toMatchObject({ kind: 'submit-post', status: 'queued' });
    expect(stream.statuses()[0]?.steps?.map((step) => step.state)).toEqual(['queued', 'queued', 'queued']);
    startWorkers();
    await within(stream.ended, 20_000, 'the stream ends');
    const jobs = stream.statuses();
    expect(jobs.at(-1)?.status).toBe('completed');
    expect(jobs.at(-1)?.steps?.map((step) => step.state)).toEqual(['completed', 'completed', 'completed']);
    // Steps changed while the job as a whole did not: events whose only difference is a step.
    const stepsOnly = jobs.filter(
      (job, index) => index > 0 && job.status === jobs[index - 1]?.status && job.status !== 'completed',
    );
    expect(
      stepsOnly.length,
      JSON.stringify(jobs.map((job) => [job.status, job.steps?.map((s) => s.state)])),
    ).toBeGreaterThan(0);
    expect(jobs.length).toBeGreaterThanOrEqual(4);
  });

  it('streams the same job from two gateway replicas, with keep-alives, and never logs the token', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'replica',
      level: 'info',
      destination: { write: (line) => lines.push(line) },
    });
    // A replica whose idle-socket timeout is short (its keep-alive comments come every second), and whose
    // request timeout is shorter than the stream: it bounds the request's arrival, not the answer.
    const config = { ...stack.config, connectionTimeoutMs: 2_000, requestTimeoutMs: 1_000 };
    const replica = buildServer(
      {
        config,
        db: stack.database.db,
        redis: stack.redis.producer,
        queues: stack.queues,
        store: buildMediaStore(config, logger),
        serveLocalMedia: true,
      },
      logger,
    );
    const port = await sparePort();
    await replica.listen({ port, host: '127.0.0.1' });
    const replicaUrl = `http://127.0.0.1:${port}`;
    try {
      const { jobId, eventsUrl } = await acceptGeneration();
      const token = eventsUrl.split('token=')[1] ?? '';
      const one = await openEvents(`${stack.baseUrl}/api/jobs/${jobId}/events`, await bearer());
      const two = await openEvents(`${replicaUrl}${eventsUrl}`);
      expect(two.response.status).toBe(200);
      await one.waitFor(() => one.events.length === 1);
      await two.waitFor(() => two.events.length === 1);
      expect(two.events[0]).toEqual(one.events[0]);
      // Quiet for over two seconds: the socket is kept alive, and the stream outlives the request timeout.
      await two.waitFor(() => two.comments.filter((comment) => comment === 'keep-alive').length >= 2, 4_000);
      // Both replicas share this process's registry: the two streams are open.
      expect(await openStreams(replicaUrl)).toBe(2);

      startWorkers();
      await within(Promise.all([one.ended, two.ended]), 15_000, 'both streams end');
      expect(two.events.at(-1)).toEqual(one.events.at(-1));
      expect(two.statuses().at(-1)?.status).toBe('completed');
      await expect.poll(() => openStreams(replicaUrl)).toBe(0);

      const logged = lines.join('');
      expect(logged).toContain(`/api/jobs/${jobId}/events?token=[redacted]`);
      expect(logged).not.toContain(token);
    } finally {
      await replica.close();
    }
  });

  it('ends open streams when its gateway shuts down, so that clients reconnect elsewhere', async () => {
    const logger = createLogger({ service: 'replica', level: 'silent' });
    const replica = buildServer(
      {
        config: stack.config,
        db: stack.database.db,
        redis: stack.redis.producer,
        queues: stack.queues,
        store: buildMediaStore(stack.config, logger),
        serveLocalMedia: true,
      },
      logger,
    );
    const port = await sparePort();
    await replica.listen({ port, host: '127.0.0.1' });
    const { jobId, eventsUrl } = await acceptGeneration();
    const stream = await openEvents(`http://127.0.0.1:${port}${eventsUrl}`);
    await stream.waitFor(() => stream.events.length === 1);
    await within(replica.close(), 5_000, 'the replica closes');
    await within(stream.ended, 5_000, 'the stream ends');
    expect(stream.statuses().map((job) => job.status)).toEqual(['queued']);
    startWorkers();
    await stack.waitForJob(jobId, 'alice');
  });
});
