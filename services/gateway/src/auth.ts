import type { UsersRepository } from '@mediaflow/db';
import type { FastifyRequest } from 'fastify';
import { errors as joseErrors, jwtVerify } from 'jose';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's user id (the token's `sub`), set by the auth hook on every /api route. */
    userId: string;
  }
}

const MAX_SUBJECT_LENGTH = 200;
// Users already written this process; a bounded memo to spare a write per request.
const KNOWN_USERS_LIMIT = 10_000;

/**
 * Checks `Authorization: Bearer <JWT>` (HS256, JWT_SECRET, expiry honoured) and makes sure the
 * user row exists, creating it the first time a valid token is seen.
 */
export function createAuthHook(options: { secret: string; users: UsersRepository }) {
  const key = new TextEncoder().encode(options.secret);
  const known = new Set<string>();

  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <JWT>');
    let subject: unknown;
    try {
      ({
        payload: { sub: subject },
      } = await jwtVerify(token, key, { algorithms: ['HS256'] }));
    } catch (error) {
      const why = error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid';
      throw new HttpError(401, 'unauthorized', `${why}; sign in again`);
    }
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw new HttpError(
        401,
        'unauthorized',
        `the token needs a "sub" claim of 1 to ${MAX_SUBJECT_LENGTH} characters naming the user`,
      );
    }
    if (!known.has(subject)) {
      await options.users.ensure(subject);
      if (known.size >= KNOWN_USERS_LIMIT) known.clear();
      known.add(subject);
    }
    request.userId = subject;
  };
}
