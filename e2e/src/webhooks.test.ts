import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JobsRepository, WebhookDeliveryRecorder, WebhooksRepository } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { reconcileWebhookDeliveries } from '@mediaflow/maintenance';
import { type FakeGemini, startFakeGemini } from '@mediaflow/testing';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobStatus, type Stack, startStack } from './stack.ts';

// Webhooks, end to end: the gateway, the workers and the notifier, sending to a receiver on 127.0.0.1
// (WEBHOOK_ALLOW_PRIVATE lets http: and loopback through; the guard's refusals of other addresses are tested
// on literal addresses, without connecting). Nothing here sends traffic off the loopback interface.

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  received: Received[];
  /** What each path answers, in turn; 204 once its list is used up. */
  answers: Map<string, number[]>;
  /** A path that answers `status` to every call. */
  always: Map<string, number>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const answers = new Map<string, number[]>();
  const always = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({ path, headers: request.headers, body, at: Date.now() });
      const status = always.get(path) ?? answers.get(path)?.shift() ?? 204;
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    answers,
    always,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Registered {
  id: string;
  url: string;
  events: string[];
  secret: string;
}

interface DeliveryItem {
  id: string;
  event: string;
  jobId: string;
  status: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  createdAt: string;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('webhooks', () => {
  let stack: Stack;
  let gemini: FakeGemini;
  let receiver: Receiver;

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    receiver = await startReceiver();
    // Retries 100 ms apart at first (doubling), so that a test sees several.
    stack = await startStack({ gemini, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_BACKOFF_MS: '100' } });
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.close();
    await gemini.close();
  });

  async function register(user: string, body: Record<string, unknown>): Promise<Registered> {
    const response = await stack.request('POST', '/api/webhooks', { user, json: body });
    expect(response.status, await response.clone().text()).toBe(201);
    return (await response.json()) as Registered;
  }

  async function generate(user: string, prompt: string): Promise<string> {
    const response = await stack.request('POST', '/api/ai-agent/generate-image', { user, json: { prompt } });
    expect(response.status).toBe(202);
    return ((await response.json()) as { jobId: string }).jobId;
  }

  async function deliveries(user: string, webhookId: string): Promise<DeliveryItem[]> {
    const response = await stack.request('GET', `/api/webhooks/${webhookId}/deliveries`, { user });
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: DeliveryItem[] }).items;
  }

  const receivedAt = (path: string) => receiver.received.filter((request) => request.path === path);

  it("tells a webhook of a completed job: signed, with the job's status JSON as GET /api/jobs/:id answers it", async () => {
    const webhook = await register('hook-alice', { url: `${receiver.url}/alice` });
    expect(webhook).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: `${receiver.url}/alice`,
      events: ['job.completed', 'job.failed'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/),
    });
    const listed = await stack.request('GET', '/api/webhooks', { user: 'hook-alice' });
    expect(await listed.json()).toEqual({
      items: [{ id: webhook.id, url: webhook.url, events: webhook.events, createdAt: expect.any(String) }],
    });

    const jobId = await generate('hook-alice', 'a lighthouse at dusk');
    const job = await stack.waitForJob(jobId, 'hook-alice');
    expect(job.status).toBe('completed');
    const [request] = await until(
      async () => receivedAt('/alice'),
      (requests) => requests.length > 0,
      'the webhook call',
    );
    if (!request) throw new Error('no call');
    expect(request.headers['content-type']).toBe('application/json');
    const signed = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    // What a receiver does: check the signature with the secret it was given at registration.
    const payload = new Webhook(webhook.secret).verify(request.body, signed) as JobStatus;
    expect(() => new Webhook(webhook.secret).verify(request.body.replace('completed', 'failed'), signed)).toThrow();
    const polled = await stack.request('GET', `/api/jobs/${jobId}`, { user: 'hook-alice' });
    expect(payload).toEqual(await polled.json());
    expect(payload).toMatchObject({ jobId, kind: 'generate-image', status: 'completed' });

    const [delivery] = await until(
      () => deliveries('hook-alice', webhook.id),
      (items) => items[0]?.status === 'delivered',
      'the delivery recorded as delivered',
    );
    expect(delivery).toEqual({
      id: signed['webhook-id'],
      event: 'job.completed',
      jobId,
      status: 'delivered',
      attempt: 1,
      statusCode: 204,
      durationMs: expect.any(Number),
      error: null,
      createdAt: expect.any(String),
    });
    // Sent once.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedAt('/alice')).toHaveLength(1);
  });

  it('retries a receiver that fails, with the same webhook-id, recording each attempt, until it answers 2xx', async () => {
    receiver.answers.set('/flaky', [500, 503, 500]);
    const webhook = await register('hook-flaky', { url: `${receiver.url}/flaky`, events: ['job.completed'] });
    const jobId = await generate('hook-flaky', 'a boat');
    await stack.waitForJob(jobId, 'hook-flaky');

    // While it fails, its deliveries list shows the last attempt's answer and how long it took.
    const failing = await until(
      () => deliveries('hook-flaky', webhook.id),
      (items) => (items[0]?.attempt ?? 0) >= 1 && items[0]?.statusCode !== null && items[0]?.status !== 'delivered',
      'a failed attempt recorded',
    );
    expect(failing[0]).toMatchObject({ event: 'job.completed', jobId, statusCode: expect.any(Number) });
    expect(failing[0]?.statusCode).toBeGreaterThanOrEqual(500);
    expect(failing[0]?.durationMs).toEqual(expect.any(Number));
    expect(failing[0]?.error).toMatch(/^the receiver answered 50[03]$/);

    const [delivered] = await until(
      () => deliveries('hook-flaky', webhook.id),
      (items) => items[0]?.status === 'delivered',
      'delivered after three failures',
    );
    expect(delivered).toMatchObject({ attempt: 4, statusCode: 204, error: null, durationMs: expect.any(Number) });
    const calls = receivedAt('/flaky');
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((call) => call.headers['webhook-id']))).toEqual(new Set([delivered?.id]));
    // Backing off: each wait longer than the one before (100, 200, 400 ms, less a fifth at most).
    const waits = calls.slice(1).map((call, i) => call.at - (calls[i]?.at ?? 0));
    expect(waits[0]).toBeGreaterThanOrEqual(75);
    expect(waits[2]).toBeGreaterThanOrEqual(300);
    // Every attempt is signed afresh (its own timestamp), and each signature holds.
    for (const call of calls) {
      const payload = new Webhook(webhook.secret).verify(call.body, {
        'webhook-id': String(call.headers['webhook-id']),
        'webhook-timestamp': String(call.headers['webhook-timestamp']),
        'webhook-signature': String(call.headers['webhook-signature']),
      });
      expect(payload).toMatchObject({ jobId, status: 'completed' });
    }
  });

  it('tells only the webhooks that asked for it of a failed job, with its error', async () => {
    gemini.script({ kind: 'blocked' });
    const failedOnly = await register('hook-bob', { url: `${receiver.url}/bob-failed`, events: ['job.failed'] });
    await register('hook-bob', { url: `${receiver.url}/bob-completed`, events: ['job.completed'] });
    const jobId = await generate('hook-bob', 'something not allowed');
    const job = await stack.waitForJob(jobId, 'hook-bob');
    expect(job).toMatchObject({ status: 'failed', error: { code: 'provider_blocked' } });

    const [request] = await until(
      async () => receivedAt('/bob-failed'),
      (requests) => requests.length > 0,
      'the job.failed call',
    );
    const payload = new Webhook(failedOnly.secret).verify(request?.body ?? '', {
      'webhook-id': String(request?.headers['webhook-id']),
      'webhook-timestamp': String(request?.headers['webhook-timestamp']),
      'webhook-signature': String(request?.headers['webhook-signature']),
    });
    expect(payload).toEqual(job);
    expect((await deliveries('hook-bob', failedOnly.id))[0]).toMatchObject({ event: 'job.failed', jobId });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedAt('/bob-completed')).toEqual([]);
  });

  it('stops delivering once a webhook is deleted: retries of pending deliveries, and new jobs', async () => {
    receiver.always.set('/down', 500);
    const webhook = await register('hook-carol', { url: `${receiver.url}/down` });
    const first = await generate('hook-carol', 'a castle');
    await stack.waitForJob(first, 'hook-carol');
    await until(
      () => deliveries('hook-carol', webhook.id),
      (items) => (items[0]?.attempt ?? 0) >= 2,
      'two failed attempts',
    );

    const deleted = await stack.request('DELETE', `/api/webhooks/${webhook.id}`, { user: 'hook-carol' });
    expect(deleted.status).toBe(204);
    expect(await (await stack.request('GET', '/api/webhooks', { user: 'hook-carol' })).json()).toEqual({ items: [] });
    expect((await stack.request('GET', `/api/webhooks/${webhook.id}/deliveries`, { user: 'hook-carol' })).status).toBe(
      404,
    );

    // Its pending delivery ends, unsent, at its next try.
    const row = await until(
      () =>
        stack.database.db
          .selectFrom('webhook_deliveries')
          .select(['status', 'error'])
          .where('webhookId', '=', webhook.id)
          .executeTakeFirstOrThrow(),
      (delivery) => delivery.status === 'failed',
      'the pending delivery given up',
    );
    expect(row.error).toBe('the webhook was deleted: not sent');
    const calls = receivedAt('/down').length;

    // A job that ends now writes no delivery for it.
    const second = await generate('hook-carol', 'another castle');
    await stack.waitForJob(second, 'hook-carol');
    const written = await stack.database.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('jobId', '=', second)
      .execute();
    expect(written).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receivedAt('/down')).toHaveLength(calls);
  });

  it("answers 404 for another user's webhook, and lists only one's own", async () => {
    const webhook = await register('hook-dave', { url: `${receiver.url}/dave` });
    for (const [method, route] of [
      ['DELETE', `/api/webhooks/${webhook.id}`],
      ['GET', `/api/webhooks/${webhook.id}/deliveries`],
    ] as const) {
      const response = await stack.request(method, route, { user: 'hook-mallory' });
      expect(response.status, `${method} ${route}`).toBe(404);
      expect(await response.json()).toEqual({ error: { code: 'not_found', message: `no webhook ${webhook.id}` } });
    }
    expect(await (await stack.request('GET', '/api/webhooks', { user: 'hook-mallory' })).json()).toEqual({ items: [] });
    // Still there for its owner.
    expect((await stack.request('GET', `/api/webhooks/${webhook.id}/deliveries`, { user: 'hook-dave' })).status).toBe(
      200,
    );
  });

  it('refuses bad registrations with 400 in the one error shape, addresses included, without calling them', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /url/],
      [{ url: 'not a url' }, /not a valid absolute URL/],
      [{ url: 'ftp://127.0.0.1/x' }, /https: or http:/],
      [{ url: `${receiver.url}/x`, events: [] }, /events/],
      [{ url: `${receiver.url}/x`, events: ['job.started'] }, /events/],
      [{ url: `${receiver.url}/x`, extra: 1 }, /additional/],
      // Private and link-local addresses stay refused even with WEBHOOK_ALLOW_PRIVATE: literal, never called.
      [{ url: 'http://10.0.0.1/hook' }, /10\.0\.0\.1 is a private address/],
      [{ url: 'http://169.254.169.254/latest/meta-data' }, /link-local/],
      [{ url: 'http://[::ffff:127.0.0.1]/' }, /IPv4-mapped/],
    ];
    for (const [body, message] of cases) {
      const response = await stack.request('POST', '/api/webhooks', { user: 'hook-erin', json: body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      const answer = (await response.json()) as { error: { code: string; message: string } };
      expect(answer.error.code).toBe('invalid_input');
      expect(answer.error.message, JSON.stringify(body)).toMatch(message);
    }
    expect(await (await stack.request('GET', '/api/webhooks', { user: 'hook-erin' })).json()).toEqual({ items: [] });
  });

  it('registers once under an Idempotency-Key, replaying the first answer, secret included', async () => {
    const send = () =>
      stack.request('POST', '/api/webhooks', {
        user: 'hook-frank',
        json: { url: `${receiver.url}/frank` },
        headers: { 'idempotency-key': 'register-frank-1' },
      });
    const first = await send();
    const again = await send();
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    const listed = (await (await stack.request('GET', '/api/webhooks', { user: 'hook-frank' })).json()) as {
      items: unknown[];
    };
    expect(listed.items).toHaveLength(1);
  });

  it("sends a delivery whose queueing was lost (Redis away after the job's commit) on the reconciler's round", async () => {
    const webhook = await register('hook-gina', { url: `${receiver.url}/gina` });
    // A job ended by its worker's commit, which wrote the delivery, but whose queueing never happened.
    const jobs = new JobsRepository(stack.database.db);
    const jobId = randomUUID();
    await jobs.create({
      id: jobId,
      kind: 'generate-image',
      ownerId: 'hook-gina',
      plan: {
        last: { name: 'generate-image', payload: { jobId, ownerId: 'hook-gina', prompt: 'p', hasReference: false } },
      },
    });
    const result = {
      assetId: randomUUID(),
      url: `${stack.baseUrl}/media/x.jpg`,
      provider: 'local',
      width: 1024,
      height: 1024,
      aspectRatio: '1:1',
      format: 'jpg',
    } as const;
    expect((await jobs.markCompleted({ jobId }, result)).jobCompleted).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedAt('/gina')).toEqual([]);
    expect((await deliveries('hook-gina', webhook.id))[0]).toMatchObject({ jobId, status: 'pending', attempt: 0 });

    const deps = {
      deliveries: new WebhooksRepository(stack.database.db),
      recorder: new WebhookDeliveryRecorder(stack.database.db),
      queues: stack.queues,
      logger: createLogger({ service: 'test', level: 'silent' }),
    };
    expect(await reconcileWebhookDeliveries(deps, 0)).toBe(1);
    const [call] = await until(
      async () => receivedAt('/gina'),
      (requests) => requests.length > 0,
      'the reconciled delivery',
    );
    const polled = await stack.request('GET', `/api/jobs/${jobId}`, { user: 'hook-gina' });
    expect(JSON.parse(call?.body ?? '')).toEqual(await polled.json());
    await until(
      () => deliveries('hook-gina', webhook.id),
      (items) => items[0]?.status === 'delivered',
      'recorded as delivered',
    );
    // Nothing left to set right, and nothing sent twice.
    expect(await reconcileWebhookDeliveries(deps, 0)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receivedAt('/gina')).toHaveLength(1);
  });
});
