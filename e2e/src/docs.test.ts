import { QUEUE_NAMES } from '@mediaflow/domain';
import { buildServer } from '@mediaflow/gateway';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore } from '@mediaflow/providers';
import { signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

interface Schema {
  type?: string;
  format?: string;
  description?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  $ref?: string;
}
interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content: Record<string, { schema: Schema; encoding?: Record<string, { contentType: string }> }> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, string>> };
  paths: Record<string, Record<string, Operation>>;
}

/** Internal and static routes, left out of the docs on purpose; `*` is the CORS preflights' OPTIONS route. */
const UNDOCUMENTED = ['/docs', '/openapi.json', '/media/', '/admin/queues', '*'];
// An unusual size, so the docs can be seen to take it from the configuration.
const MAX_IMAGE_BYTES = 7 * 1024 * 1024;

describe('API docs and the queue board', () => {
  let stack: Stack;
  let server: ReturnType<typeof buildServer>;
  let document: OpenApi;
  const registered = new Set<string>();

  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false, env: { MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) } });
    const logger = createLogger({ service: 'test', level: 'silent' });
    server = buildServer(
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
    // The app registers its routes when the server gets ready, so this sees every one of them.
    server.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD' && !UNDOCUMENTED.some((prefix) => route.url.startsWith(prefix)))
          registered.add(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
      }
    });
    await server.ready();
    const response = await server.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json();
  });
  afterAll(async () => {
    await server?.close();
    await stack?.stop();
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
    );

  it('serves OpenAPI 3 with a bearer JWT scheme', () => {
    expect(document.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(document.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
  });

  it('documents every route the app registers, with its methods, and nothing internal', () => {
    expect(registered.size).toBeGreaterThan(10);
    expect(new Set(operations().map(({ method, path }) => `${method} ${path}`))).toEqual(registered);
  });

  it('puts the bearer requirement on every /api operation and only there', () => {
    for (const { path, operation } of operations()) {
      if (path.startsWith('/api/')) expect(operation.security, path).toEqual([{ bearer: [] }]);
      else expect(operation.security, path).toBeUndefined();
    }
    expect(document.paths['/healthz']).toBeDefined();
    expect(document.paths['/readyz']).toBeDefined();
  });

  it('answers every /api error in the error shape, with the hooks’ statuses and headers', () => {
    const error = document.components.schemas.ErrorResponse;
    expect(error?.properties?.error?.properties).toMatchObject({
      code: { type: 'string' },
      message: { type: 'string' },
    });
    for (const { path, method, operation } of operations()) {
      if (!path.startsWith('/api/')) continue;
      const statuses = Object.keys(operation.responses).map(Number);
      expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining([401, 429, 500]));
      expect(operation.responses['429']?.headers, `${method} ${path}`).toHaveProperty('Retry-After');
      for (const status of statuses.filter((code) => code >= 400)) {
        expect(
          operation.responses[status]?.content?.['application/json']?.schema,
          `${method} ${path} ${status}`,
        ).toEqual({ $ref: '#/components/schemas/ErrorResponse' });
      }
      // A tus creation takes no Idempotency-Key: a repeat makes another upload.
      if (method === 'POST' && path !== '/api/uploads') {
        expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining([400, 409, 422]));
        expect(operation.parameters, `${method} ${path}`).toContainEqual(
          expect.objectContaining({ in: 'header', name: 'Idempotency-Key' }),
        );
      }
    }
    expect(document.paths['/api/ai-agent/generate-image']?.post?.responses).toHaveProperty('413');
    expect(document.paths['/api/ai-agent/generate-image']?.post?.responses).toHaveProperty('503');
    expect(document.paths['/api/admin/jobs/failed']?.get?.responses).toHaveProperty('403');
  });

  it('documents the multipart bodies field by field, files as binary, with the configured limits', () => {
    const form = (path: string) => {
      const content = document.paths[path]?.post?.requestBody?.content['multipart/form-data'];
      expect(content, path).toBeDefined();
      return { properties: content?.schema.properties ?? {}, encoding: content?.encoding ?? {} };
    };
    const binary = { type: 'string', format: 'binary' };

    const posts = form('/api/posts');
    expect(Object.keys(posts.properties).sort()).toEqual([
      'assetId',
      'brandId',
      'caption',
      'media',
      'scheduledAt',
      'uploadId',
    ]);
    expect(posts.properties.media).toMatchObject({ type: 'array', items: binary });
    expect(posts.properties.assetId).toMatchObject({ type: 'array', items: { type: 'string', format: 'uuid' } });
    expect(posts.encoding.media?.contentType).toContain('video/mp4');

    const blogs = form('/api/blogs');
    expect(Object.keys(blogs.properties).sort()).toEqual([
      'banner',
      'bannerAssetId',
      'bannerUploadId',
      'content',
      'featured',
      'featuredAssetId',
      'featuredUploadId',
      'imageAlt',
      'title',
    ]);
    expect(blogs.properties.banner).toMatchObject(binary);
    expect(blogs.properties.featured).toMatchObject(binary);

    const generate = form('/api/ai-agent/generate-image');
    expect(Object.keys(generate.properties).sort()).toEqual(['aspectRatio', 'prompt', 'referenceImage']);
    expect(generate.properties.referenceImage).toMatchObject(binary);
    expect(generate.properties.referenceImage?.description).toContain(`(${MAX_IMAGE_BYTES} bytes)`);
    expect(generate.encoding.referenceImage?.contentType).toBe('image/jpeg, image/png, image/webp');
    // The JSON alternative carries no file.
    const json = document.paths['/api/ai-agent/generate-image']?.post?.requestBody?.content['application/json'];
    expect(Object.keys(json?.schema.properties ?? {}).sort()).toEqual(['aspectRatio', 'prompt']);
  });

  it('serves Swagger UI at /docs', async () => {
    const response = await server.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
  });

  describe('the queue board', () => {
    const get = (url: string, token?: string, cookie?: string) =>
      server.inject({
        method: 'GET',
        url,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(cookie ? { cookie } : {}) },
      });
    const expectError = (response: { statusCode: number; json: () => unknown }, status: number, code: string) => {
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({ error: { code, message: expect.any(String) } });
    };

    it('refuses anyone without a token (401) and anyone without the admin role (403)', async () => {
      expectError(await get('/admin/queues'), 401, 'unauthorized');
      expectError(await get('/admin/queues/api/queues'), 401, 'unauthorized');
      expectError(await get('/admin/queues', await signToken('bob')), 403, 'forbidden');
      expectError(await get('/admin/queues', await signToken('bob', { expiresIn: '-1m' })), 401, 'unauthorized');
    });

    it('shows an admin the board and its API every queue', async () => {
      const admin = await signToken('ops', { claims: { role: 'admin' } });
      const page = await get('/admin/queues', admin);
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const api = await get('/admin/queues/api/queues', admin);
      expect(api.statusCode).toBe(200);
      const names = (api.json() as { queues: Array<{ name: string }> }).queues.map((queue) => queue.name);
      expect(names.sort()).toEqual([...QUEUE_NAMES].sort());
    });

    it('is read-only', async () => {
      const admin = await signToken('ops', { claims: { role: 'admin' } });
      const response = await server.inject({
        method: 'PUT',
        url: `/admin/queues/api/queues/${QUEUE_NAMES[0]}/pause`,
        headers: { authorization: `Bearer ${admin}` },
      });
      expectError(response, 403, 'forbidden');
    });

    it('signs a browser in with an HttpOnly, SameSite=Strict cookie from a posted admin token', async () => {
      expect((await server.inject({ method: 'GET', url: '/admin/queues/login' })).headers['content-type']).toMatch(
        /^text\/html/,
      );
      const login = (token: string) =>
        server.inject({
          method: 'POST',
          url: '/admin/queues/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ token }).toString(),
        });

      expectError(await login('a.b.c; Path=/'), 400, 'invalid_input');
      const refused = await login(await signToken('bob'));
      expectError(refused, 403, 'forbidden');
      expect(refused.headers['set-cookie']).toBeUndefined();

      const signedIn = await login(await signToken('ops', { claims: { roles: ['admin'] } }));
      expect(signedIn.statusCode).toBe(303);
      expect(signedIn.headers.location).toBe('/admin/queues');
      const cookie = String(signedIn.headers['set-cookie']);
      expect(cookie).toMatch(/; Path=\/admin\/queues; HttpOnly; SameSite=Strict/);
      const board = await get('/admin/queues/api/queues', undefined, cookie.split(';')[0]);
      expect(board.statusCode).toBe(200);
    });
  });
});
