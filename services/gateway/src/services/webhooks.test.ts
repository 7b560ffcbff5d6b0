import type { NewWebhook, WebhookDeliveryView, WebhookView } from '@mediaflow/db';
import { describe, expect, it } from 'vitest';
import { MAX_WEBHOOKS_PER_USER, newSecret, Webhooks, type WebhooksDeps } from './webhooks.ts';

// The real SSRF guard: literal addresses are refused without resolving or connecting, and names are
// resolved by a stand-in table, so no DNS server is asked.

function setup(options: { allowPrivate?: boolean; resolve?: WebhooksDeps['resolve'] } = {}) {
  const rows: Array<WebhookView & { ownerId: string; secret: string; deleted: boolean }> = [];
  const deliveries = new Map<string, WebhookDeliveryView[]>();
  let n = 0;
  const webhooks = new Webhooks({
    policy: { allowPrivate: options.allowPrivate ?? false },
    ...(options.resolve ? { resolve: options.resolve } : {}),
    webhooks: {
      create: async (webhook: NewWebhook) => {
        const row = { ...webhook, id: `w${++n}`, createdAt: new Date(n * 1000), deleted: false };
        rows.push(row);
        return { id: row.id, url: row.url, events: row.events, createdAt: row.createdAt };
      },
      listForOwner: async (ownerId) =>
        rows
          .filter((row) => row.ownerId === ownerId && !row.deleted)
          .map(({ id, url, events, createdAt }) => ({ id, url, events, createdAt })),
      deleteForOwner: async (id, ownerId) => {
        const row = rows.find((r) => r.id === id && r.ownerId === ownerId && !r.deleted);
        if (row) row.deleted = true;
        return row !== undefined;
      },
      deliveriesForOwner: async (id, ownerId, limit) => {
        const row = rows.find((r) => r.id === id && r.ownerId === ownerId && !r.deleted);
        return row ? (deliveries.get(id) ?? []).slice(0, limit) : undefined;
      },
    },
  });
  return { webhooks, rows, deliveries };
}

/** A stand-in resolver: every name resolves to a public address, but intranet.example to a private one. */
const resolve: WebhooksDeps['resolve'] = async (hostname) => [
  { address: hostname === 'intranet.example' ? '10.0.0.8' : '93.184.216.34', family: 4 },
];

describe('Webhooks', () => {
  it('registers a webhook with a whsec_ secret, shown only in this answer, for both events by default', async () => {
    const { webhooks, rows } = setup({ resolve });
    const registered = await webhooks.register('alice', { url: 'https://hooks.example/in' });
    expect(registered).toEqual({
      id: 'w1',
      url: 'https://hooks.example/in',
      events: ['job.completed', 'job.failed'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/),
    });
    expect(rows[0]?.secret).toBe(registered.secret);
    expect(await webhooks.list('alice')).toEqual([
      {
        id: 'w1',
        url: 'https://hooks.example/in',
        events: ['job.completed', 'job.failed'],
        createdAt: expect.any(Date),
      },
    ]);
    expect(JSON.stringify(await webhooks.list('alice'))).not.toContain('whsec_');
    const failedOnly = await webhooks.register('alice', { url: 'https://hooks.example/f', events: ['job.failed'] });
    expect(failedOnly.events).toEqual(['job.failed']);
    expect(failedOnly.secret).not.toBe(registered.secret);
  });

  it('secrets are 24 random bytes', () => {
    const secret = newSecret();
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(24);
    expect(newSecret()).not.toBe(secret);
  });

  it('refuses an http: URL unless private addresses are allowed', async () => {
    const { webhooks, rows } = setup({ resolve });
    await expect(webhooks.register('alice', { url: 'http://hooks.example/in' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'invalid_input',
      message: 'url: the URL must be https:',
    });
    expect(rows).toEqual([]);
    const development = setup({ allowPrivate: true });
    expect((await development.webhooks.register('alice', { url: 'http://127.0.0.1:8080/in' })).url).toBe(
      'http://127.0.0.1:8080/in',
    );
  });

  it('refuses literal private, loopback, link-local and mapped addresses, before writing anything', async () => {
    const { webhooks, rows } = setup();
    for (const url of [
      'https://127.0.0.1/in',
      'https://10.1.2.3/in',
      'https://192.168.0.10/in',
      'https://172.20.0.1/in',
      'https://100.64.1.1/in',
      'https://169.254.169.254/latest/meta-data/',
      'https://0.0.0.0/in',
      'https://[::1]/in',
      'https://[fe80::1]/in',
      'https://[fd00::5]/in',
      'https://[::ffff:10.0.0.1]/in',
    ]) {
      const refused = await webhooks.register('alice', { url }).catch((error: unknown) => error);
      expect(refused, url).toMatchObject({ statusCode: 400, code: 'invalid_input' });
      expect((refused as Error).message, url).toMatch(/webhooks go to public addresses only/);
    }
    expect(rows).toEqual([]);
    // With allowPrivate, loopback only: the rest stays refused.
    const development = setup({ allowPrivate: true });
    await expect(development.webhooks.register('alice', { url: 'http://10.1.2.3/in' })).rejects.toMatchObject({
      statusCode: 400,
    });
    await expect(development.webhooks.register('alice', { url: 'http://[::1]:9/in' })).resolves.toMatchObject({
      url: 'http://[::1]:9/in',
    });
  });

  it('refuses a name that resolves to a private address', async () => {
    const { webhooks } = setup({ resolve });
    await expect(webhooks.register('alice', { url: 'https://intranet.example/' })).rejects.toMatchObject({
      statusCode: 400,
      message:
        'url: intranet.example resolves to 10.0.0.8, which is a private address: webhooks go to public addresses only',
    });
  });

  it(`allows ${MAX_WEBHOOKS_PER_USER} webhooks per user`, async () => {
    const { webhooks } = setup({ resolve });
    for (let i = 0; i < MAX_WEBHOOKS_PER_USER; i++) await webhooks.register('alice', { url: `https://h.example/${i}` });
    await expect(webhooks.register('alice', { url: 'https://h.example/one-more' })).rejects.toMatchObject({
      statusCode: 409,
      code: 'conflict',
    });
    await webhooks.register('bob', { url: 'https://h.example/bob' });
    await webhooks.delete('alice', 'w1');
    await webhooks.register('alice', { url: 'https://h.example/again' });
  });

  it("deletes and lists deliveries of the owner's webhooks only: another user's is not found", async () => {
    const { webhooks, deliveries } = setup({ resolve });
    const { id } = await webhooks.register('alice', { url: 'https://hooks.example/in' });
    const delivery: WebhookDeliveryView = {
      id: 'd1',
      event: 'job.completed',
      jobId: 'j1',
      status: 'delivered',
      attempt: 1,
      statusCode: 200,
      durationMs: 12,
      error: null,
      createdAt: new Date(),
    };
    deliveries.set(id, [delivery]);
    expect(await webhooks.deliveries('alice', id)).toEqual([delivery]);
    await expect(webhooks.deliveries('mallory', id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(webhooks.delete('mallory', id)).rejects.toMatchObject({
      statusCode: 404,
      message: `no webhook ${id}`,
    });
    await webhooks.delete('alice', id);
    await expect(webhooks.delete('alice', id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(webhooks.deliveries('alice', id)).rejects.toMatchObject({ statusCode: 404 });
    expect(await webhooks.list('alice')).toEqual([]);
  });
});
