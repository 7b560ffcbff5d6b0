import type { DeliveryToSend, JobRow, JobStepView } from '@mediaflow/db';
import { type CheckedWebhookUrl, WebhookCallFailed } from '@mediaflow/providers';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { DeliveryFailed, deliverWebhook, type NotifierDeps } from './deliver-webhook.ts';
import { handlers } from './handlers.ts';

// No network at all: the real SSRF guard runs, with a stand-in resolver (no DNS server is asked), and the
// call is a stand-in that records it.

const SECRET = `whsec_${Buffer.from('0123456789abcdefghijklmn').toString('base64')}`;
const NOW = new Date('2030-01-02T03:04:05.678Z');

function delivery(overrides: Partial<DeliveryToSend['webhook']> = {}): DeliveryToSend {
  return {
    id: 'd1',
    jobId: 'job-1',
    event: 'job.completed',
    status: 'delivering',
    attempt: 1,
    createdAt: NOW,
    webhook: {
      id: 'w1',
      ownerId: 'alice',
      url: 'https://hooks.example/in',
      secret: SECRET,
      deletedAt: null,
      ...overrides,
    },
  };
}

const job: JobRow & { steps: JobStepView[] } = {
  id: 'job-1',
  kind: 'generate-image',
  ownerId: 'alice',
  status: 'completed',
  attempts: 1,
  payload: {
    last: { name: 'generate-image', payload: { jobId: 'job-1', ownerId: 'alice', prompt: 'p', hasReference: false } },
  },
  result: {
    assetId: 'a1',
    url: 'https://cdn.example/a1.jpg',
    provider: 'cloudinary',
    width: 1024,
    height: 1024,
    aspectRatio: '1:1',
    format: 'jpg',
  },
  error: null,
  createdAt: NOW,
  updatedAt: NOW,
  finishedAt: NOW,
  steps: [],
};

interface Posted {
  target: CheckedWebhookUrl;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

function setup(options: {
  webhook?: Partial<DeliveryToSend['webhook']>;
  answer?: (posted: Posted) => Promise<{ statusCode: number; durationMs: number }>;
  resolve?: NotifierDeps['resolve'];
}) {
  const posted: Posted[] = [];
  const responses: Array<{ id: string; statusCode: number | null; durationMs: number; error: string }> = [];
  const found = delivery(options.webhook);
  const deps: NotifierDeps = {
    deliveries: {
      findDelivery: async (id) => (id === found.id ? found : undefined),
      recordResponse: async (id, response) => {
        responses.push({ id, ...response });
      },
    },
    jobs: { findForOwner: async (id, ownerId) => (id === job.id && ownerId === job.ownerId ? job : undefined) },
    policy: { allowPrivate: false },
    // A stand-in resolver: no DNS server is asked.
    resolve: options.resolve ?? (async () => [{ address: '93.184.216.34', family: 4 }]),
    post: async (target, request) => {
      const call = { target, ...request };
      posted.push(call);
      return (options.answer ?? (async () => ({ statusCode: 204, durationMs: 5 })))(call);
    },
    now: () => NOW,
  };
  return { deps, posted, responses };
}

describe('deliverWebhook', () => {
  it('is the handler of deliver-webhook jobs', () => {
    expect(handlers['deliver-webhook']).toBe(deliverWebhook);
  });

  it("POSTs the job's status JSON, signed the Standard Webhooks way, to the checked address", async () => {
    const { deps, posted, responses } = setup({});
    expect(await deliverWebhook({ jobId: 'd1' }, deps)).toEqual({ statusCode: 204, durationMs: 5 });
    expect(posted).toHaveLength(1);
    const [call] = posted;
    if (!call) throw new Error('nothing posted');
    expect(call.target.addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(call.timeoutMs).toBe(10_000);
    expect(JSON.parse(call.body)).toEqual({
      jobId: 'job-1',
      kind: 'generate-image',
      status: 'completed',
      attempts: 1,
      result: job.result,
    });
    expect(call.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'd1',
      'webhook-timestamp': String(Math.floor(NOW.getTime() / 1000)),
      'webhook-signature': expect.stringMatching(/^v1,[A-Za-z0-9+/]+=*$/),
    });
    // What a receiver using the standardwebhooks package checks (its clock set to the delivery's).
    const realNow = Date.now;
    Date.now = () => NOW.getTime();
    try {
      expect(new Webhook(SECRET).verify(call.body, call.headers)).toEqual(JSON.parse(call.body));
      expect(() => new Webhook(SECRET).verify(`${call.body} `, call.headers)).toThrow();
    } finally {
      Date.now = realNow;
    }
    // A success is recorded by the runtime (markCompleted), not here.
    expect(responses).toEqual([]);
  });

  it("records a receiver's other answers and retries them, a redirect included", async () => {
    for (const [statusCode, code] of [
      [500, 'provider_unavailable'],
      [410, 'provider_rejected'],
      [302, 'provider_rejected'],
    ] as const) {
      const { deps, responses } = setup({ answer: async () => ({ statusCode, durationMs: 42 }) });
      const failure = await deliverWebhook({ jobId: 'd1' }, deps).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(DeliveryFailed);
      expect(failure).toMatchObject({ code, retryable: true, message: `the receiver answered ${statusCode}` });
      expect(responses).toEqual([
        { id: 'd1', statusCode, durationMs: 42, error: `the receiver answered ${statusCode}` },
      ]);
    }
  });

  it('records an attempt that got no answer, with how long it waited, and retries it', async () => {
    const { deps, responses } = setup({
      answer: async () => {
        throw new WebhookCallFailed('no answer within 10 s', { durationMs: 10_003, timedOut: true });
      },
    });
    await expect(deliverWebhook({ jobId: 'd1' }, deps)).rejects.toMatchObject({
      code: 'provider_timeout',
      retryable: true,
      message: 'no answer within 10 s',
    });
    expect(responses).toEqual([{ id: 'd1', statusCode: null, durationMs: 10_003, error: 'no answer within 10 s' }]);
  });

  it('sends nothing for a deleted webhook, and gives up at once', async () => {
    const { deps, posted } = setup({ webhook: { deletedAt: new Date() } });
    await expect(deliverWebhook({ jobId: 'd1' }, deps)).rejects.toMatchObject({
      retryable: false,
      message: 'the webhook was deleted: not sent',
    });
    expect(posted).toEqual([]);
  });

  it('sends nothing to a URL the guard refuses at delivery: for good when literal, retried when a name', async () => {
    // The real guard, on a literal address: refused before any lookup or connection.
    const literal = setup({
      webhook: { url: 'https://169.254.169.254/latest/meta-data' },
      resolve: async () => {
        throw new Error('a literal address is not resolved');
      },
    });
    await expect(deliverWebhook({ jobId: 'd1' }, literal.deps)).rejects.toMatchObject({
      retryable: false,
      message: expect.stringMatching(/^not sent: 169\.254\.169\.254 is a link-local address/),
    });
    expect(literal.posted).toEqual([]);

    // The registered name now resolves to a private address (DNS rebinding): refused, tried again later.
    const renamed = setup({ resolve: async () => [{ address: '10.0.0.7', family: 4 }] });
    await expect(deliverWebhook({ jobId: 'd1' }, renamed.deps)).rejects.toMatchObject({
      code: 'invalid_input',
      retryable: true,
      message:
        'not sent: hooks.example resolves to 10.0.0.7, which is a private address: webhooks go to public addresses only',
    });
    expect(renamed.posted).toEqual([]);

    // An http: URL (registered while WEBHOOK_ALLOW_PRIVATE was on) is refused for good once it is off.
    const plain = setup({ webhook: { url: 'http://hooks.example/in' } });
    await expect(deliverWebhook({ jobId: 'd1' }, plain.deps)).rejects.toMatchObject({ retryable: false });
    expect(plain.posted).toEqual([]);
  });

  it('fails for good when its delivery or job is gone', async () => {
    const { deps } = setup({});
    await expect(deliverWebhook({ jobId: 'nope' }, deps)).rejects.toMatchObject({ retryable: false });
    const other = setup({ webhook: { ownerId: 'mallory' } });
    await expect(deliverWebhook({ jobId: 'd1' }, other.deps)).rejects.toMatchObject({ retryable: false });
  });
});
