import { createHash } from 'node:crypto';
import type { IdempotencyKeysRepository } from '@mediaflow/db';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The Idempotency-Key this request claimed; its answer is recorded under it. */
    idempotency?: ClaimedKey;
  }
}

/**
 * A claimed key. `answered` is set by whoever has already stored the answer with the work's own
 * commit (a submission does, with its job row), so that it is not written a second time.
 */
export interface ClaimedKey {
  userId: string;
  key: string;
  answered: boolean;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * `Idempotency-Key` on a POST: the same key and request within its lifetime (24 h) gets the first answer
 * back and does no new work; the same key with a different request is refused with 422. Runs after
 * validation (and after a multipart body is read, so files count by their SHA-256) and before the handler.
 */
export function createIdempotencyHooks(keys: IdempotencyKeysRepository) {
  async function claim(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || key === undefined) return undefined;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new HttpError(400, 'invalid_input', 'Idempotency-Key must be 1 to 200 visible ASCII characters');
    }
    const claim = await keys.claim(request.userId, key, requestHash(request));
    switch (claim.kind) {
      case 'claimed':
        request.idempotency = { userId: request.userId, key, answered: false };
        return undefined;
      case 'replay':
        return reply.code(claim.status).header('idempotent-replayed', 'true').send(claim.response);
      case 'in-progress':
        throw new HttpError(
          409,
          'conflict',
          'a request with this Idempotency-Key is still being answered; try again shortly',
          {
            retryAfterS: 2,
          },
        );
      case 'mismatch':
        throw new HttpError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was used for a different request; use a new key',
        );
    }
  }

  async function record(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const claimed = request.idempotency;
    if (claimed === undefined || claimed.answered) return payload;
    if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
      await keys.complete(claimed.userId, claimed.key, reply.statusCode, JSON.parse(payload));
    } else {
      await keys.release(claimed.userId, claimed.key);
    }
    return payload;
  }

  return { claim, record };
}

/** What the request asks for: route and body, with files as their digests, in a stable order. */
function requestHash(request: FastifyRequest): string {
  const files = (request.spooled ?? []).map((file) => [file.field, file.sha256]);
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
