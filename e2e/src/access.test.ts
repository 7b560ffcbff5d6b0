import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeImage, signToken } from '@mediaflow/testing';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'mediaflow-api';

describe('access: RS256 through JWKS, issuer and audience', () => {
  let stack: Stack;
  let jwks: Server;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;

  const rs256 = (claims: { iss?: string; aud?: string; exp?: string; key?: CryptoKey; sub?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject(claims.sub ?? 'carol')
      .setIssuer(claims.iss ?? ISSUER)
      .setAudience(claims.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m')
      .sign(claims.key ?? privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    stack = await startStack({ env: { JWT_JWKS_URL: url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => {
    await stack.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });

  const status = async (token: string) => (await stack.request('GET', '/api/brands', { token })).status;

  it('accepts an RS256 token with the right issuer and audience', async () => {
    expect(await status(await rs256())).toBe(200);
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example/' }],
    ['another audience', { aud: 'someone-else' }],
    ['an expired token', { exp: '-1m' }],
  ])('refuses %s with 401', async (_what, claims) => {
    expect(await status(await rs256(claims))).toBe(401);
  });

  it('refuses a token signed by a key not in the JWKS', async () => {
    expect(await status(await rs256({ key: otherKey }))).toBe(401);
  });

  it('refuses a token with no expiry', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('dave')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(privateKey);
    const response = await stack.request('GET', '/api/brands', { token });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: 'unauthorized', message: expect.stringContaining('"exp"') },
    });
  });

  it('refuses an HS256 token without the configured issuer and audience', async () => {
    expect(await status(await signToken('carol'))).toBe(401);
  });
});

describe('access: rate limits, generations in flight, Idempotency-Key, limits on input', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: {
        RATE_LIMIT_GENERATE: '3',
        RATE_LIMIT_READ: '1000',
        MAX_GENERATIONS_IN_FLIGHT: '1000',
        MAX_IMAGE_PIXELS: '1000000',
      },
    });
  });
  afterAll(() => stack.stop());

  it('limits generations per user per minute with 429 and Retry-After, apart from other users', async () => {
    const generate = (user: string) =>
      stack.request('POST', '/api/ai-agent/generate-image', { user, json: { prompt: 'a cat' } });
    for (let i = 0; i < 3; i++) expect((await generate('dave')).status).toBe(202);
    const limited = await generate('dave');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect((await generate('erin')).status).toBe(202);
    expect((await stack.request('GET', '/api/brands', { user: 'dave' })).status).toBe(200);
  });

  it('replays the first answer to a repeated Idempotency-Key and refuses it for another body', async () => {
    const headers = { 'idempotency-key': 'brand-create-1' };
    const first = await stack.request('POST', '/api/brands', { user: 'frank', json: { name: 'Once' }, headers });
    const again = await stack.request('POST', '/api/brands', { user: 'frank', json: { name: 'Once' }, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    const brands = (await (await stack.request('GET', '/api/brands', { user: 'frank' })).json()) as {
      items: unknown[];
    };
    expect(brands.items).toHaveLength(1);

    const other = await stack.request('POST', '/api/brands', { user: 'frank', json: { name: 'Twice' }, headers });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    // Keys are per user: another user's same key is a new request.
    expect(
      (await stack.request('POST', '/api/brands', { user: 'gina', json: { name: 'Twice' }, headers })).status,
    ).toBe(201);
  });

  it('does no new work for a repeated multipart submission', async () => {
    const brand = (await (
      await stack.request('POST', '/api/brands', { user: 'hank', json: { name: 'H' } })
    ).json()) as { id: string };
    const image = await makeImage(40, 40);
    const post = () => {
      const form = new FormData();
      form.append('caption', 'same');
      form.append('brandId', brand.id);
      form.append('media', new Blob([image]), 'a.png');
      return stack.request('POST', '/api/posts', { user: 'hank', form, headers: { 'idempotency-key': 'post-1' } });
    };
    const first = (await (await post()).json()) as { jobId: string };
    const second = (await (await post()).json()) as { jobId: string };
    expect(second.jobId).toBe(first.jobId);
    const jobs = await stack.database.db.selectFrom('jobs').select('id').where('ownerId', '=', 'hank').execute();
    expect(jobs).toHaveLength(1);
  });

  it('frees the key when the request failed, so a corrected retry goes through', async () => {
    const headers = { 'idempotency-key': 'fix-me' };
    expect((await stack.request('POST', '/api/brands', { user: 'ivan', json: { name: '' }, headers })).status).toBe(
      400,
    );
    expect(
      (await stack.request('POST', '/api/brands', { user: 'ivan', json: { name: 'Fixed' }, headers })).status,
    ).toBe(201);
  });

  it('refuses an image over the pixel limit before decoding it', async () => {
    const big = await makeImage(1200, 1000);
    const form = new FormData();
    form.append('prompt', 'x');
    form.append('referenceImage', new Blob([big]), 'big.png');
    const response = await stack.request('POST', '/api/ai-agent/generate-image', { user: 'judy', form });
    expect(response.status).toBe(413);
  });

  it('strips EXIF location from an uploaded photo before it is stored', async () => {
    const brand = (await (await stack.request('POST', '/api/brands', { user: 'kim', json: { name: 'K' } })).json()) as {
      id: string;
    };
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } })
      .withExif({ IFD0: { Make: 'PhoneCo' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
      .jpeg()
      .toBuffer();
    expect((await sharp(photo).metadata()).exif).toBeDefined();
    const form = new FormData();
    form.append('caption', 'where was this');
    form.append('brandId', brand.id);
    form.append('media', new Blob([photo]), 'photo.jpg');
    const { jobId } = (await (await stack.request('POST', '/api/posts', { user: 'kim', form })).json()) as {
      jobId: string;
    };
    const job = await stack.waitForJob(jobId, 'kim');
    const [media] = (job.result as { media: Array<{ url: string }> }).media;
    const stored = Buffer.from(await (await fetch(media?.url ?? '')).arrayBuffer());
    const metadata = await sharp(stored).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(metadata.exif).toBeUndefined();
  });
});

describe('access: the admin role is checked before the request is read', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false });
  });
  afterAll(() => stack.stop());

  const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

  it('answers 403 to a non-admin and 401 to no token, whatever the query', async () => {
    const route = '/api/admin/jobs/failed?queue=bogus';
    const refused = await stack.request('GET', route, { user: 'nobody' });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe('forbidden');
    const anonymous = await stack.request('GET', route, { token: null });
    expect(anonymous.status).toBe(401);
    expect(await errorCode(anonymous)).toBe('unauthorized');
    // An admin's request is read and validated as before.
    const admin = await signToken('ops', { claims: { role: 'admin' } });
    expect((await stack.request('GET', route, { token: admin })).status).toBe(400);
  });

  it('claims no Idempotency-Key for a refused request', async () => {
    for (const queue of ['bogus', 'generation']) {
      const response = await stack.request('POST', `/api/admin/jobs/retry?queue=${queue}`, {
        user: 'mallory',
        headers: { 'idempotency-key': `retry-all-${queue}` },
      });
      expect(response.status).toBe(403);
    }
    const claimed = await stack.database.db
      .selectFrom('idempotency_keys')
      .select('key')
      .where('userId', '=', 'mallory')
      .execute();
    expect(claimed).toEqual([]);
  });

  it('refuses a non-admin before parsing a malformed body: 403, not 400', async () => {
    const response = await stack.request('POST', '/api/admin/jobs/0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11/retry', {
      user: 'mallory',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'malformed-1' },
    });
    expect(response.status).toBe(403);
    const malformed = await fetch(`${stack.baseUrl}/api/admin/jobs/retry?queue=bogus`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await signToken('mallory')}`, 'content-type': 'application/json' },
      body: '{"not json',
    });
    expect(malformed.status).toBe(403);
    expect(await errorCode(malformed)).toBe('forbidden');
  });
});
