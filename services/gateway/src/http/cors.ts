import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** What a browser page may send and read (Retry-After, the ETag to poll with, the replay marker...). */
const METHODS = ['GET', 'POST', 'DELETE', 'PATCH', 'HEAD'];
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'If-None-Match',
  'Last-Event-ID',
  'traceparent',
  // Resumable uploads (tus 1.0, /api/uploads).
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Metadata',
  'Upload-Offset',
];
const EXPOSED_HEADERS = [
  'ETag',
  'Retry-After',
  'X-Request-Id',
  'Idempotent-Replayed',
  'Location',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
];
/** Browsers keep a preflight's answer this long (Chromium caps it at 2 h). */
const PREFLIGHT_MAX_AGE_S = 600;

export interface CorsOptions {
  /** CORS_ORIGINS: exact origins, as browsers send them. */
  origins: readonly string[];
}

/** The API and its description; never the docs' and the board's pages, the media files or ops routes. */
const corsApplies = (path: string) => path.startsWith('/api/') || path === '/openapi.json';
const pathOf = (request: FastifyRequest) => request.url.split('?', 1)[0] ?? '';

/**
 * CORS for the API (@fastify/cors), so that web apps on the origins in CORS_ORIGINS can call it with a
 * bearer token. Registered on the root before any route, its hook runs before the /api hooks, so a
 * preflight is answered (204) before authentication or rate limits: a browser sends none of the
 * request's headers with it. An origin not on the list, or a path outside /api/ and /openapi.json, gets no
 * CORS header at all (browsers then keep the page from reading the answer), and an OPTIONS request that
 * is no allowed preflight is 404 as before. No credentials: the API takes bearer tokens, not cookies.
 */
export const cors = fp<CorsOptions>(async (app, options) => {
  const origins = new Set(options.origins);
  // Routes outside the API opt out by name, so their answers do not even get `Vary: Origin`.
  app.addHook('onRoute', (route) => {
    if (route.url === '*' || corsApplies(route.url)) return;
    route.config = { ...route.config, cors: false } as typeof route.config;
  });
  const allowed: FastifyCorsOptions = {
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
    strictPreflight: false,
  };
  await app.register(fastifyCors, {
    hideOptionsRoute: true,
    // Decided per request: the catch-all OPTIONS route and not-found answers have no path of their own.
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      const preflight = request.method === 'OPTIONS';
      const applies =
        origin !== undefined &&
        origins.has(origin) &&
        corsApplies(pathOf(request)) &&
        (!preflight || request.headers['access-control-request-method'] !== undefined);
      callback(null, applies ? { ...allowed, origin } : { origin: false });
    },
  });
});
