import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, notFoundHandler } from './errors.ts';
import { securityHeaders } from './security-headers.ts';
import { WEB_APP_PATH, webApp } from './web-app.ts';

/** The gateway's pieces that serve /app/: the security headers (its CSP) and the static files. */
async function gateway(root: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(securityHeaders, {
    docsPath: '/docs',
    boardPath: '/admin/queues',
    mediaPath: '/media/',
    webApp: { path: WEB_APP_PATH, origins: ['https://api.example'] },
  });
  await app.register(webApp, { root });
  app.get('/api/thing', async () => ({ ok: true }));
  return app;
}

describe('the web app at /app/ (SERVE_WEB_APP)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mediaflow-web-app-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html at /app/ (revalidated), hashed assets for a year, under the app CSP', async () => {
    const built = path.join(dir, 'built');
    await mkdir(path.join(built, 'assets'), { recursive: true });
    await writeFile(path.join(built, 'index.html'), '<!doctype html><title>mediaflow</title>');
    await writeFile(path.join(built, 'assets', 'index-abc123.js'), 'console.log(1)');
    const app = await gateway(built);

    const redirect = await app.inject({ url: '/app' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/app/');

    const index = await app.inject({ url: '/app/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    const csp = String(index.headers['content-security-policy']);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' https: data: blob: https://api.example",
      "media-src 'self' https: blob: https://api.example",
      "connect-src 'self' https://api.example",
      "frame-ancestors 'none'",
    ])
      expect(csp).toContain(directive);
    expect(csp).not.toContain('unsafe-inline');

    const asset = await app.inject({ url: '/app/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-security-policy']).toContain("script-src 'self'");

    const missing = await app.inject({ url: '/app/assets/nothing.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await app.inject({ url: '/app/../package.json' })).statusCode).not.toBe(200);

    // The API keeps its own policy.
    expect((await app.inject({ url: '/api/thing' })).headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    await app.close();
  });

  it('says how to build the app when WEB_APP_DIR has no build', async () => {
    const app = await gateway(path.join(dir, 'not-built'));
    for (const url of ['/app', '/app/', '/app/assets/index.js']) {
      const answer = await app.inject({ url });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual({
        error: { code: 'service_unavailable', message: expect.stringContaining('npx vite build apps/web') },
      });
    }
    await app.close();
  });
});
