import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { QUEUE_NAMES } from '@mediaflow/domain';
import type { QueueRepository } from '@mediaflow/queue';
import type { FastifyError, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requireAdmin } from '../services/caller.ts';
import { HttpError } from '../services/errors.ts';
import { type AuthOptions, createAuthHook } from './auth.ts';
import { errorHandler } from './errors.ts';
import { BOARD_LOGIN_POLICY, withPolicy } from './security-headers.ts';

export const QUEUE_BOARD_PATH = '/admin/queues';
const COOKIE = 'mediaflow_board';
const COOKIE_VALUE = new RegExp(`(?:^|;\\s*)${COOKIE}=([^;]+)`);
/** Base64url segments and dots only, so the token is safe as a cookie value. */
const COMPACT_JWT = '^[\\w-]+\\.[\\w-]+\\.[\\w-]*$';

const LOGIN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Queue board: sign in</title></head>
<body>
<h1>Queue board</h1>
<p>Paste a bearer token with the admin role. It is kept in an HttpOnly cookie for ${QUEUE_BOARD_PATH} only,
until the browser closes; the token's own expiry still applies.</p>
<form method="post" action="${QUEUE_BOARD_PATH}/login">
<input type="password" name="token" autocomplete="off" required size="60" aria-label="admin token">
<button>Open the board</button>
</form>
</body>
</html>
`;

export interface QueueBoardOptions {
  auth: AuthOptions;
  queues: Pick<QueueRepository, 'boardQueues'>;
  /** Mark the sign-in cookie Secure even when the request does not look like https (production). */
  secureCookie: boolean;
}

/**
 * Bull Board over every queue, at /admin/queues, for admins: the same JWT check as /api.
 *
 * A browser cannot add an Authorization header to a page load, so the board also takes the token from
 * an HttpOnly, SameSite=Strict cookie scoped to /admin/queues (and Secure over https or in production),
 * set by POST /admin/queues/login from the form at GET /admin/queues/login: the token travels in a
 * request body, never in a URL that logs keep, and page scripts cannot read it. The board is read-only (GET only): PostgreSQL is the record of every
 * job, and the admin API's retries keep it in step with BullMQ, which the board's buttons would not. So
 * the cookie can only ever read, and a cross-site request cannot make it do anything.
 */
export const queueBoard: FastifyPluginAsyncTypebox<QueueBoardOptions> = async (app, options) => {
  const authenticate = createAuthHook(options.auth);
  const authenticateAdmin = async (request: FastifyRequest) => {
    await authenticate(request);
    requireAdmin(request);
  };

  app.get('/login', { schema: { hide: true }, helmet: withPolicy(BOARD_LOGIN_POLICY) }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(LOGIN_PAGE),
  );

  // Only the login form posts urlencoded; the rest of the app keeps to JSON and multipart.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.post(
    '/login',
    { schema: { hide: true, body: Type.Object({ token: Type.String({ maxLength: 8192, pattern: COMPACT_JWT }) }) } },
    async (request, reply) => {
      const { token } = request.body;
      request.headers.authorization = `Bearer ${token}`;
      await authenticateAdmin(request);
      // No Max-Age: the cookie goes when the browser closes, and the token's expiry is checked on every request.
      const secure = request.protocol === 'https' || options.secureCookie ? '; Secure' : '';
      return reply
        .header('set-cookie', `${COOKIE}=${token}; Path=${QUEUE_BOARD_PATH}; HttpOnly; SameSite=Strict${secure}`)
        .redirect(QUEUE_BOARD_PATH, 303);
    },
  );

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      try {
        const cookie = request.headers.cookie?.match(COOKIE_VALUE)?.[1];
        if (!request.headers.authorization && cookie) request.headers.authorization = `Bearer ${cookie}`;
        if (!request.headers.authorization) {
          throw new HttpError(
            401,
            'unauthorized',
            `send Authorization: Bearer <JWT>, or sign in at ${QUEUE_BOARD_PATH}/login`,
          );
        }
        await authenticateAdmin(request);
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          throw new HttpError(
            403,
            'forbidden',
            'the queue board is read-only; retry with POST /api/admin/jobs/:id/retry',
          );
        }
      } catch (error) {
        // Bull Board's routes answer errors in its own shape; refusals here keep to ours.
        return errorHandler(error as FastifyError, request, reply);
      }
    });
    const adapter = new FastifyAdapter().setBasePath(QUEUE_BOARD_PATH);
    createBullBoard({
      queues: options.queues.boardQueues(QUEUE_NAMES).map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      // @bull-board/fastify brings its own, older @bull-board/api: the same interface, declared twice.
      serverAdapter: adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: { uiConfig: { boardTitle: 'mediaflow queues' } },
    });
    await board.register(adapter.registerPlugin());
  });
};
