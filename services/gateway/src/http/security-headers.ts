import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

type Directives = Record<string, string[]>;
type RouteHelmet = Omit<FastifyHelmetOptions, 'global'>;

/**
 * The API answers JSON (and the local store's files): nothing in an answer may load, run, frame or be
 * framed, whatever a browser might make of it.
 */
const API_POLICY: Directives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** Swagger UI (/docs): its scripts, styles and images from here, and the spec and "try it out" calls. */
const DOCS_POLICY: Directives = {
  ...API_POLICY,
  'script-src': ["'self'"],
  // The one inline style sheet Swagger UI adds, by its hash: the colours of its own logo's SVG. The
  // browser test (e2e/src/browser-pages.test.ts) shows when an upgrade changes it.
  'style-src': ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
};

/**
 * Bull Board's pages: as Swagger UI, plus inline styles (its loading screen is styled inline) and its
 * `<base href>`. Its Google Fonts stylesheet stays blocked: no third party learns who opens the board,
 * and the board falls back to the system's fonts.
 */
const BOARD_POLICY: Directives = {
  ...DOCS_POLICY,
  'style-src': ["'self'", "'unsafe-inline'"],
  'base-uri': ["'self'"],
};

/**
 * The board's sign-in form (queue-board.ts): no script or style at all, and it posts to this origin only.
 */
export const BOARD_LOGIN_POLICY: Directives = { ...API_POLICY, 'form-action': ["'self'"] };

/**
 * The web app (/app/, web-app.ts): its own scripts and styles (Vite's build has no inline code); images
 * from the stores (https:), the local store's /media/ (this origin, or PUBLIC_URL's), data: URLs and
 * previews of files about to be uploaded (blob:); videos likewise; API calls and the job event streams to
 * this origin and the configured API origins. Nothing else: no inline script, no eval, no frames.
 */
export function appPolicy(origins: readonly string[]): Directives {
  return {
    ...API_POLICY,
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'https:', 'data:', 'blob:', ...origins],
    'media-src': ["'self'", 'https:', 'blob:', ...origins],
    'font-src': ["'self'"],
    'connect-src': ["'self'", ...origins],
    'manifest-src': ["'self'"],
  };
}

/** Helmet's options for a route with a policy of its own: the global options, with this CSP. */
export function withPolicy(directives: Directives): RouteHelmet {
  return { contentSecurityPolicy: { useDefaults: false, directives } };
}

/** Helmet's defaults are 180 days; a year, and subdomains, as HSTS preload lists ask. */
const HSTS = 'max-age=31536000; includeSubDomains';

export interface SecurityHeadersOptions {
  /** Swagger UI's prefix, e.g. /docs. */
  docsPath: string;
  /** Bull Board's prefix, e.g. /admin/queues; its JSON API under `/api/` keeps the API's policy. */
  boardPath: string;
  /** The local disk store's files (/media/), which other sites may show. */
  mediaPath: string;
  /** The web app's prefix (/app) and the origins beyond its own it may call and show media from. */
  webApp?: { path: string; origins: readonly string[] };
}

/**
 * Security headers on every answer (@fastify/helmet): `X-Content-Type-Options: nosniff`, a CSP of
 * `default-src 'none'` with `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for old browsers),
 * `Referrer-Policy: no-referrer`, and the cross-origin isolation headers. Swagger UI, Bull Board's
 * pages and the web app get the CSP they need to render (DOCS_POLICY, BOARD_POLICY, appPolicy), nothing
 * looser elsewhere.
 *
 * `Strict-Transport-Security` goes only on answers to https requests (`request.protocol`, which behind a
 * TLS terminator is right once TRUST_PROXY is set): browsers ignore it over http anyway, and a local
 * http run is not told anything about a TLS setup it does not have. Registered before any route, so that
 * its onRoute hook sees them all.
 */
export const securityHeaders = fp<SecurityHeadersOptions>(async (app, options) => {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: API_POLICY },
    frameguard: { action: 'deny' },
    // Sent by the hook below, for https requests only.
    strictTransportSecurity: false,
  });

  const ownRoutePolicy = (route: RouteOptions) =>
    route.helmet !== undefined || (route.config as { helmet?: unknown } | undefined)?.helmet !== undefined;
  const under = (url: string, prefix: string) => url === prefix || url.startsWith(`${prefix}/`);
  app.addHook('onRoute', (route) => {
    if (ownRoutePolicy(route)) return;
    let helmet: RouteHelmet | undefined;
    if (options.webApp && under(route.url, options.webApp.path)) helmet = withPolicy(appPolicy(options.webApp.origins));
    else if (under(route.url, options.docsPath)) helmet = withPolicy(DOCS_POLICY);
    else if (under(route.url, options.boardPath) && !under(route.url, `${options.boardPath}/api`))
      helmet = withPolicy(BOARD_POLICY);
    else if (route.url.startsWith(options.mediaPath))
      // Images and videos the API hands out as URLs: other sites may embed them.
      helmet = { crossOriginResourcePolicy: { policy: 'cross-origin' } };
    if (helmet) route.config = { ...route.config, helmet } as typeof route.config;
  });

  app.addHook('onRequest', async (request, reply) => {
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
  });
});
