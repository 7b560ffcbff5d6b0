import { signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** The web app's dev server: allowed by default outside production (libs/config). */
const APP = 'http://localhost:5173';
const ELSEWHERE = 'https://elsewhere.example';
const JOB = '/api/jobs/00000000-0000-4000-8000-000000000000';

const corsHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));

describe('CORS', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false });
  });
  afterAll(() => stack?.stop());

  const preflight = (route: string, origin: string, method = 'GET', headers = 'authorization') =>
    fetch(`${stack.baseUrl}${route}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    });

  it('answers a preflight from an allowed origin with 204 and what the API accepts, before authentication', async () => {
    for (const [route, method, headers] of [
      ['/api/jobs/x', 'GET', 'authorization,if-none-match'],
      [JOB, 'GET', 'authorization'],
      ['/api/ai-agent/generate-image', 'POST', 'authorization,content-type,idempotency-key,traceparent'],
      [`${JOB}/events`, 'GET', 'authorization,last-event-id'],
      ['/api/uploads', 'POST', 'authorization,tus-resumable,upload-length,upload-metadata'],
      ['/api/uploads/abc', 'PATCH', 'authorization,content-type,tus-resumable,upload-offset'],
      ['/api/uploads/abc', 'HEAD', 'authorization,tus-resumable'],
    ] as const) {
      const response = await preflight(route, APP, method, headers);
      expect(response.status, route).toBe(204);
      expect(corsHeaders(response), route).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'GET, POST, DELETE, PATCH, HEAD',
        'access-control-allow-headers':
          'Authorization, Content-Type, Idempotency-Key, If-None-Match, Last-Event-ID, traceparent, Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset',
        'access-control-expose-headers':
          'ETag, Retry-After, X-Request-Id, Idempotent-Replayed, Location, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Upload-Offset, Upload-Length, Upload-Expires',
        'access-control-max-age': '600',
      });
      expect(response.headers.get('vary')).toMatch(/Origin/);
      expect(await response.text()).toBe('');
    }
  });

  it('gives an origin that is not on the list no Access-Control-Allow-Origin, preflight or not', async () => {
    const refused = await preflight('/api/jobs/x', ELSEWHERE);
    expect(refused.status).toBe(404);
    expect(corsHeaders(refused)).toEqual({});
    const simple = await stack.request('GET', '/api/brands', { headers: { origin: ELSEWHERE } });
    // CORS is the browser's to enforce: the request itself is answered as ever, without the headers.
    expect(simple.status).toBe(200);
    expect(corsHeaders(simple)).toEqual({});
  });

  it('puts the allowed origin and the exposed headers on answers, errors included', async () => {
    const exposed = {
      'access-control-expose-headers':
        'ETag, Retry-After, X-Request-Id, Idempotent-Replayed, Location, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Upload-Offset, Upload-Length, Upload-Expires',
    };
    for (const response of [
      await stack.request('GET', '/api/brands', { headers: { origin: APP } }),
      await stack.request('GET', JOB, { headers: { origin: APP } }),
      await stack.request('GET', '/api/brands', { token: null, headers: { origin: APP } }),
      await stack.request('GET', '/openapi.json', { token: null, headers: { origin: APP } }),
    ]) {
      expect(corsHeaders(response), response.url).toEqual({ 'access-control-allow-origin': APP, ...exposed });
    }
    // The gateway's own origin (PUBLIC_URL) is allowed too, for the web app it serves.
    const own = await stack.request('GET', '/api/brands', { headers: { origin: stack.baseUrl } });
    expect(own.headers.get('access-control-allow-origin')).toBe(stack.baseUrl);
  });

  it('answers a preflight without Access-Control-Request-Method as any OPTIONS: 404', async () => {
    const response = await fetch(`${stack.baseUrl}/api/brands`, { method: 'OPTIONS', headers: { origin: APP } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect(corsHeaders(response)).toEqual({});
  });

  it('leaves the queue board, the docs and the ops routes out', async () => {
    const admin = await signToken('ops', { claims: { role: 'admin' } });
    for (const route of ['/admin/queues', '/admin/queues/api/queues', '/docs', '/healthz', '/metrics']) {
      const response = await stack.request('GET', route, { token: admin, headers: { origin: APP } });
      expect(response.status, route).toBeLessThan(400);
      expect(corsHeaders(response), route).toEqual({});
      expect(response.headers.get('vary') ?? '', route).not.toMatch(/Origin/);
      const refused = await preflight(route, APP);
      expect(refused.status, route).toBe(404);
      expect(corsHeaders(refused), route).toEqual({});
    }
  });

  it('lets a page on an allowed origin read a resumable upload’s offset', async () => {
    const tus = { origin: APP, 'tus-resumable': '1.0.0' };
    const created = await stack.request('POST', '/api/uploads', {
      headers: {
        ...tus,
        'upload-length': '4',
        'upload-metadata': `filename ${btoa('a.png')},filetype ${btoa('image/png')}`,
      },
    });
    expect(created.status).toBe(201);
    const head = await stack.request('HEAD', created.headers.get('location') ?? '', { headers: tus });
    expect(head.status).toBe(200);
    expect(head.headers.get('access-control-allow-origin')).toBe(APP);
    expect(head.headers.get('access-control-expose-headers')).toContain('Upload-Offset');
    expect(head.headers.get('upload-offset')).toBe('0');
  });
});
