import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Ids a client may choose: short, and safe in a log line, a header and a metric label. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Fastify's `genReqId`: the client's `x-request-id` when it is 1 to 128 characters of `[A-Za-z0-9._-]`,
 * so that a caller can follow its own id through the logs and the workers; anything else (too long,
 * spaces, control characters, a repeated header) is replaced by a new UUID rather than logged and
 * echoed as sent.
 */
export function requestIdOf(request: IncomingMessage): string {
  const offered = request.headers['x-request-id'];
  return typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID();
}
