import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../services/errors.ts';

/** Where the web app is served; its build (apps/web/vite.config.ts) uses the same base. */
export const WEB_APP_PATH = '/app';

export interface WebAppOptions {
  /** The built app: index.html and assets/ (WEB_APP_DIR). */
  root: string;
}

/**
 * The web app (apps/web, built by Vite) at /app/: index.html at /app/ (/app redirects there), its
 * hashed files under /app/assets/ cached for a year, index.html revalidated each time so a new build
 * shows at once. Its CSP (security-headers.ts, APP policy) lets it run its own scripts and styles, show
 * the stores' images, and call the API. With no build in `root`, /app/ says how to make one.
 */
export const webApp: FastifyPluginAsync<WebAppOptions> = async (app, options) => {
  if (!existsSync(path.join(options.root, 'index.html'))) {
    app.log.warn({ webAppDir: options.root }, 'SERVE_WEB_APP is on but the web app is not built there');
    const notBuilt = async () => {
      throw new HttpError(
        503,
        'service_unavailable',
        `the web app is not built in ${options.root}: run npx vite build apps/web (npm start does), or set WEB_APP_DIR`,
      );
    };
    app.get(WEB_APP_PATH, { schema: { hide: true } }, notBuilt);
    app.get(`${WEB_APP_PATH}/*`, { schema: { hide: true } }, notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: options.root,
    prefix: WEB_APP_PATH,
    // /app → /app/, whose index.html is the app.
    redirect: true,
    index: ['index.html'],
    dotfiles: 'deny',
    // The local store's /media/ registration decorates reply.sendFile already.
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply, filePath) => {
      const hashed = path.relative(options.root, filePath).startsWith(`assets${path.sep}`);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};
