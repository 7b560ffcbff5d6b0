import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Answer, IdempotentRequest } from '../services/idempotency.ts';

/**
 * The request's Idempotency-Key, for `Idempotency.run`: undefined when it sends none. Taken after
 * validation (and after a multipart body is read, so files count by their SHA-256).
 */
export function idempotentRequest(request: FastifyRequest): IdempotentRequest | undefined {
  const key = request.headers['idempotency-key'];
  if (request.method !== 'POST' || key === undefined) return undefined;
  // A repeated header is one key joined with ", " (as Node joins it), which no valid key is.
  return { userId: request.userId, key: [key].flat().join(', '), fingerprint: fingerprint(request) };
}

/** Sends a route's answer; a stored one, replayed for a repeated Idempotency-Key, says so. */
export function sendAnswer(reply: FastifyReply, answer: Answer<unknown> & { replayed: boolean }): FastifyReply {
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}

/** What the request asks for: route and body, with files as their digests, in a stable order. */
function fingerprint(request: FastifyRequest): string {
  const files = (request.form?.files ?? []).map((file) => [file.field, file.sha256]);
  const body = JSON.stringify(canonical(request.body ?? null));
  return createHash('sha256')
    .update(`${request.method} ${request.routeOptions.url}\n${body}\n${JSON.stringify(files)}`)
    .digest('hex');
}

function canonical(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `sha256:${createHash('sha256').update(value).digest('hex')}`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, item]) => [key, canonical(item)]),
    );
  }
  return value;
}
