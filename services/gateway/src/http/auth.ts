import type { UsersRepository } from '@mediaflow/db';
import type { FastifyRequest } from 'fastify';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { Caller } from '../services/caller.ts';
import { HttpError } from '../services/errors.ts';
import type { EventsTokens } from '../services/events-tokens.ts';

export interface AuthOptions {
  /** HS256 tokens are accepted when set. */
  secret: string | undefined;
  /** RS256 tokens are accepted, with keys from this JWKS, when set. */
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** Claims that grant the admin role (JWT_ADMIN_CLAIM): names or dot paths, e.g. `realm_access.roles`. */
  adminClaims: string[];
  users: UsersRepository;
  /** Checks the `?token=` of the routes that take one instead of a bearer header (config.eventsToken). */
  eventsTokens?: Pick<EventsTokens, 'verify'>;
}

const MAX_SUBJECT_LENGTH = 200;
// Users already written this process; a bounded memo to spare a write per request.
const KNOWN_USERS_LIMIT = 10_000;
// Tokens already verified, so that a client polling with one token pays for its signature check once
// (that check was a fifth of a poll's cost). An entry lasts until the token expires or, at most, this
// long: a key withdrawn from the JWKS stops working within it.
const VERIFIED_TOKENS_LIMIT = 10_000;
const VERIFIED_TOKEN_MAX_AGE_MS = 5 * 60_000;

/**
 * Checks `Authorization: Bearer <JWT>` — HS256 with JWT_SECRET or RS256 with keys from JWT_JWKS_URL,
 * expiry always, issuer and audience when configured — and makes sure the user row exists.
 */
export function createAuthHook(options: AuthOptions) {
  const secret = options.secret === undefined ? undefined : new TextEncoder().encode(options.secret);
  const jwks = options.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(options.jwksUrl));
  const claims: JWTVerifyOptions = {
    // A token that never expires is refused: a leaked one would work forever.
    requiredClaims: ['exp', 'sub'],
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };
  const known = new Set<string>();

  const verified = new Map<string, { payload: JWTPayload; until: number }>();

  async function verify(token: string): Promise<JWTPayload> {
    const now = Date.now();
    const hit = verified.get(token);
    if (hit && hit.until > now) return hit.payload;
    verified.delete(token);
    const payload = await verifySignature(token);
    if (verified.size >= VERIFIED_TOKENS_LIMIT) verified.delete(verified.keys().next().value as string);
    verified.set(token, { payload, until: Math.min((payload.exp ?? 0) * 1000, now + VERIFIED_TOKEN_MAX_AGE_MS) });
    return payload;
  }

  async function verifySignature(token: string): Promise<JWTPayload> {
    const { alg } = decodeProtectedHeader(token);
    if (alg === 'HS256' && secret)
      return (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] })).payload;
    if (alg === 'RS256' && jwks) return (await jwtVerify(token, jwks, { ...claims, algorithms: ['RS256'] })).payload;
    throw new HttpError(401, 'unauthorized', `tokens signed with ${alg ?? 'no algorithm'} are not accepted here`);
  }

  return async function authenticate(request: FastifyRequest): Promise<void> {
    // The one exception to the bearer header: a job's event stream, which a browser's EventSource opens
    // with no headers, takes the events token of its eventsUrl as `?token=` (events-tokens.ts). It opens
    // that job's events for its user and nothing else.
    if (request.routeOptions.config.eventsToken && options.eventsTokens && !request.headers.authorization) {
      const eventsToken = (request.query as { token?: unknown } | undefined)?.token;
      if (typeof eventsToken === 'string') {
        const jobId = (request.params as { jobId?: string } | undefined)?.jobId;
        request.userId = await options.eventsTokens.verify(eventsToken, jobId);
        request.isAdmin = false;
        return;
      }
    }
    const token = request.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <JWT>');
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(401, 'unauthorized', `${describe(error)}; sign in again`);
    }
    const subject = payload.sub;
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
    request.isAdmin = grantsAdmin(payload, options.adminClaims);
  };
}

/**
 * Whether one of the admin claims says "admin": its value is that string, or a list holding it. A claim
 * name is taken as a top-level claim first (namespaced claims such as `https://example.com/roles` have
 * dots of their own); when the token has none by that name, the dots walk into nested objects.
 */
export function grantsAdmin(payload: JWTPayload, claims: readonly string[]): boolean {
  return claims.some((claim) => {
    const value = Object.hasOwn(payload, claim) ? payload[claim] : claimAt(payload, claim.split('.'));
    return value === 'admin' || (Array.isArray(value) && value.includes('admin'));
  });
}

function claimAt(payload: JWTPayload, path: string[]): unknown {
  let value: unknown = payload;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Who is asking, for the services: as the auth hook found it. */
export function callerOf(request: FastifyRequest): Caller {
  return { userId: request.userId, isAdmin: request.isAdmin };
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's "${error.claim}" claim is not accepted`;
  return 'the token is not valid';
}
