import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildServer } from '@mediaflow/gateway';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore } from '@mediaflow/providers';
import { makeImage, signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'mediaflow-api';
const REQUEST_TIMEOUT_MS = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('hardening: headers, request ids, token checks, timeouts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      inProcessWorkers: false,
      env: {
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_ADMIN_CLAIM: 'realm_access.roles',
        TRUST_PROXY: '127.0.0.1',
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      },
    });
  });
  afterAll(() => stack.stop());

  /** A token this gateway accepts: HS256 with the configured issuer and audience. */
  const token = (sub: string, claims: Record<string, unknown> = {}) =>
    signToken(sub, { claims: { iss: ISSUER, aud: AUDIENCE, ...claims } });
  const get = async (route: string, headers: Record<string, string> = {}, sub = 'user-1') =>
    stack.request('GET', route, { token: await token(sub), headers });

  /** Sends raw bytes to the gateway and returns all it answers until it closes the connection. */
  const rawRequest = async (text: string): Promise<string> => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(stack.baseUrl).port) });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.end(text);
    await new Promise((resolve) => socket.on('close', resolve));
    return Buffer.concat(received).toString('latin1');
  };

  /** A server on the stack's clients with some of its configuration changed, for inject(). */
  const serverWith = (config: Partial<Stack['config']>) => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    return buildServer(
      {
        config: { ...stack.config, ...config },
        db: stack.database.db,
        redis: stack.redis.producer,
        queues: stack.queues,
        store: buildMediaStore(stack.config, logger),
        serveLocalMedia: false,
      },
      logger,
    );
  };

  describe('security headers', () => {
    it('puts nosniff and a CSP that allows nothing on API answers, errors included', async () => {
      for (const response of [
        await get('/api/brands'),
        await stack.request('GET', '/api/brands', { token: null }),
        await get('/api/nowhere'),
        await stack.request('GET', '/healthz', { token: null }),
      ]) {
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        const csp = response.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("default-src 'none'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).not.toMatch(/script-src|style-src|unsafe/);
        expect(response.headers.get('x-frame-options')).toBe('DENY');
        expect(response.headers.get('referrer-policy')).toBe('no-referrer');
        // Plain http: no HSTS.
        expect(response.headers.get('strict-transport-security')).toBeNull();
      }
    });

    it('keeps the essentials on an answer the router gives before any hook, and lets other sites show media', async () => {
      const unreadable = await fetch(`${stack.baseUrl}/api/jobs/%E0%A4%A`);
      expect(unreadable.status).toBe(400);
      expect(unreadable.headers.get('x-content-type-options')).toBe('nosniff');
      expect(unreadable.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect((await get('/api/brands')).headers.get('cross-origin-resource-policy')).toBe('same-origin');
      const media = await fetch(`${stack.baseUrl}/media/uploads/none.png`);
      expect(media.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(media.headers.get('content-security-policy')).toContain("default-src 'none'");
    });

    it("gives Swagger UI and the board's pages only what they need: scripts and styles from here", async () => {
      const docs = (await stack.request('GET', '/docs', { token: null })).headers.get('content-security-policy');
      expect(docs).toContain("script-src 'self'");
      expect(docs).toContain("frame-ancestors 'none'");
      expect(docs).not.toContain('unsafe');
      const login = await stack.request('GET', '/admin/queues/login', { token: null });
      expect(login.headers.get('content-security-policy')).toBe(
        "default-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none'",
      );
      const admin = await token('ops', { realm_access: { roles: ['admin'] } });
      const board = await stack.request('GET', '/admin/queues', { token: admin });
      expect(board.status).toBe(200);
      expect(board.headers.get('content-security-policy')).toContain("script-src 'self'");
      const boardApi = await stack.request('GET', '/admin/queues/api/queues', { token: admin });
      expect(boardApi.status).toBe(200);
      expect(boardApi.headers.get('content-security-policy')).not.toContain('script-src');
    });

    it('sends HSTS for https requests from a trusted proxy, and for nobody else', async () => {
      const proxied = await get('/api/brands', { 'x-forwarded-proto': 'https' });
      expect(proxied.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');

      const viaProxy = (server: ReturnType<typeof buildServer>) =>
        server.inject({ method: 'GET', url: '/healthz', headers: { 'x-forwarded-proto': 'https' } });
      const untrusting = serverWith({ trustProxy: false });
      const oneHop = serverWith({ trustProxy: 1 });
      try {
        const spoofed = await viaProxy(untrusting);
        expect(spoofed.statusCode).toBe(200);
        expect(spoofed.headers['strict-transport-security']).toBeUndefined();
        // A hop count trusts the nearest proxy (Fastify alone would trust no one for a bare count).
        expect((await viaProxy(oneHop)).headers['strict-transport-security']).toBeDefined();
      } finally {
        await untrusting.close();
        await oneHop.close();
      }
    });

    it('marks the board cookie Secure over https (through a trusted proxy) and in production', async () => {
      const login = (server: ReturnType<typeof buildServer>, headers: Record<string, string>, sub: string) =>
        token(sub, { realm_access: { roles: ['admin'] } }).then((admin) =>
          server.inject({
            method: 'POST',
            url: '/admin/queues/login',
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
            payload: new URLSearchParams({ token: admin }).toString(),
          }),
        );
      const cookieOf = (response: { statusCode: number; headers: Record<string, unknown> }) => {
        expect(response.statusCode).toBe(303);
        return String(response.headers['set-cookie']);
      };
      const test = serverWith({});
      const production = serverWith({ nodeEnv: 'production' });
      try {
        expect(cookieOf(await login(test, {}, 'ops-1'))).not.toContain('Secure');
        expect(cookieOf(await login(test, { 'x-forwarded-proto': 'https' }, 'ops-2'))).toMatch(/; Secure$/);
        expect(cookieOf(await login(production, {}, 'ops-3'))).toMatch(/; Secure$/);
      } finally {
        await test.close();
        await production.close();
      }
    });
  });

  describe('request ids', () => {
    const idFor = async (sent: string) =>
      (await get('/api/brands', { 'x-request-id': sent })).headers.get('x-request-id');

    it("keeps a client's id of up to 128 letters, digits, dots, dashes and underscores", async () => {
      expect(await idFor('client-id_1.2')).toBe('client-id_1.2');
      const longest = 'a'.repeat(128);
      expect(await idFor(longest)).toBe(longest);
    });

    it.each([
      ['129 characters', 'a'.repeat(129)],
      ['a space', 'two words'],
      ['markup', '<script>'],
      ['a tab', 'a\tb'],
    ])('replaces an id with %s by a new UUID', async (_what, sent) => {
      expect(await idFor(sent)).toMatch(UUID);
    });

    it('replaces an id with a newline (folded onto a second line)', async () => {
      const answer = await rawRequest(
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: first\r\n second\r\nConnection: close\r\n\r\n`,
      );
      // Node refuses an obsolete line fold outright; if it ever takes it, the id must still be replaced.
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      if (status === 200) expect(/\r\nx-request-id: ([^\r]*)/i.exec(answer)?.[1]).toMatch(UUID);
      else expect(status).toBe(400);
      expect(answer).not.toContain('second');
    });

    it('ignores a malformed traceparent, and the request goes through', async () => {
      for (const traceparent of [
        'garbage',
        '00-zz-yy-01',
        `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`,
        'x'.repeat(4000),
      ]) {
        const response = await get('/api/brands', { traceparent, tracestate: '=;,=' });
        expect(response.status, traceparent.slice(0, 40)).toBe(200);
      }
    });
  });

  describe('tokens', () => {
    it.each([
      ['another audience', { aud: 'another-app' }],
      ['another issuer', { iss: 'https://evil.example/' }],
      ['no audience', { aud: undefined }],
      ['no issuer', { iss: undefined }],
    ])('refuses a token with %s (401)', async (_what, claims) => {
      const response = await stack.request('GET', '/api/brands', { token: await token('eve', claims) });
      expect(response.status).toBe(401);
    });

    it('grants admin from the configured claim path only: realm_access.roles, not role or roles', async () => {
      const status = async (claims: Record<string, unknown>) =>
        (
          await stack.request('GET', '/api/admin/jobs/failed?queue=generation', {
            token: await token('ops', claims),
          })
        ).status;
      expect(await status({ realm_access: { roles: ['offline_access', 'admin'] } })).toBe(200);
      expect(await status({ realm_access: { roles: 'admin' } })).toBe(200);
      expect(await status({ role: 'admin' })).toBe(403);
      expect(await status({ roles: ['admin'] })).toBe(403);
      expect(await status({ realm_access: { roles: ['user'] } })).toBe(403);
      expect(await status({ realm_access: ['admin'] })).toBe(403);
    });
  });

  describe('timeouts', () => {
    it('closes a connection whose request stalls half-way after REQUEST_TIMEOUT_MS, and deletes its spool files', async () => {
      const brand = (await (
        await stack.request('POST', '/api/brands', { token: await token('slow'), json: { name: 'Slow' } })
      ).json()) as { id: string };
      const marker = randomBytes(16);
      const boundary = 'stalled-boundary';
      const image = Buffer.concat([await makeImage(32, 32), marker]);
      // An MP4 by its first bytes, then the marker: the part that never finishes.
      const video = Buffer.concat([
        Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]),
        marker,
        Buffer.alloc(64 * 1024, 0x42),
      ]);
      const part = (headers: string, body: Buffer) =>
        Buffer.concat([Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), body, Buffer.from('\r\n')]);
      const body = Buffer.concat([
        part('Content-Disposition: form-data; name="caption"', Buffer.from('stalled')),
        part('Content-Disposition: form-data; name="brandId"', Buffer.from(brand.id)),
        part('Content-Disposition: form-data; name="media"; filename="a.png"\r\nContent-Type: image/png', image),
        part('Content-Disposition: form-data; name="media"; filename="b.mp4"\r\nContent-Type: video/mp4', video),
        Buffer.from(`--${boundary}--\r\n`),
      ]);
      const head = [
        'POST /api/posts HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${await token('slow')}`,
        `Content-Type: multipart/form-data; boundary=${boundary}`,
        `Content-Length: ${body.length}`,
        '',
        '',
      ].join('\r\n');
      // Everything up to half of the video, then nothing more.
      const sent = body.subarray(0, body.indexOf(marker, body.indexOf('b.mp4')) + marker.length + 32 * 1024);

      const port = Number(new URL(stack.baseUrl).port);
      const socket = connect({ host: '127.0.0.1', port });
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(head);
      socket.write(sent);
      const stalledAt = Date.now();

      // Both files are on disk while the client stalls: the complete image and half of the video.
      await expect
        .poll(() => spooled(stack.spoolDir, marker), { timeout: REQUEST_TIMEOUT_MS / 2, interval: 50 })
        .toHaveLength(2);
      const closedAt = await Promise.race([closed, sleep(15_000).then(() => Number.NaN)]);
      socket.destroy();
      expect(closedAt - stalledAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(closedAt - stalledAt).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
      expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
      await expect.poll(() => spooled(stack.spoolDir, marker), { timeout: 2_000, interval: 50 }).toEqual([]);
      // Nothing was accepted for it.
      const jobs = await stack.database.db.selectFrom('jobs').select('id').where('ownerId', '=', 'slow').execute();
      expect(jobs).toEqual([]);
    });
  });
});

/** The request spool files holding `marker`. */
async function spooled(spoolDir: string, marker: Buffer): Promise<string[]> {
  // Where the gateway spools a request's files (http/multipart.ts).
  const SPOOL_DIR = path.join(spoolDir, 'requests');
  const names = await readdir(SPOOL_DIR).catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of names) {
    const content = await readFile(path.join(SPOOL_DIR, name)).catch(() => undefined);
    if (content?.includes(marker)) found.push(name);
  }
  return found;
}
