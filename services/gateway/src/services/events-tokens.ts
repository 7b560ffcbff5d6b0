import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { HttpError } from './errors.ts';

/** How long an events token lasts: enough to follow a job to its end, short enough to leak little. */
export const EVENTS_TOKEN_LIFETIME_S = 15 * 60;
const SCOPE = 'job-events';
const HS256_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');

/**
 * The tokens in a 202 answer's `eventsUrl`, for a browser's EventSource, which cannot send headers: an
 * HS256 JWT `{sub, jobId, scope: 'job-events', iat, exp}` that opens that one job's event stream for
 * EVENTS_TOKEN_LIFETIME_S and nothing else. It is signed with a key derived from EVENTS_TOKEN_SECRET (by
 * default JWT_SECRET), never the secret itself, so that no events token is ever a valid bearer token.
 */
export class EventsTokens {
  /** A KeyObject, made once: createHmac with a Buffer key imports it again on every token. */
  private readonly key: KeyObject;
  private readonly now: () => number;

  constructor(secret: string, options: { now?: () => number } = {}) {
    this.key = createSecretKey(createHmac('sha256', secret).update('mediaflow job-events token v1').digest());
    this.now = options.now ?? Date.now;
  }

  /**
   * Signed here with node:crypto's HMAC rather than jose's SignJWT, which signs through WebCrypto: an
   * asynchronous job per token that took a sixth of the gateway's CPU on every accepted job (a profile of
   * generate-image under load). The token is a plain HS256 JWT; `verify` checks it with jose.
   */
  async issue(userId: string, jobId: string): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const claims = { jobId, scope: SCOPE, sub: userId, iat, exp: iat + EVENTS_TOKEN_LIFETIME_S };
    const signed = `${HS256_HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${signed}.${createHmac('sha256', this.key).update(signed).digest('base64url')}`;
  }

  /** The job's event stream, with a token for it: what a 202 answer's `eventsUrl` says. */
  async eventsUrl(userId: string, jobId: string): Promise<string> {
    return `${eventsPath(jobId)}?token=${await this.issue(userId, jobId)}`;
  }

  /** The user a token speaks for, if it is an events token for job `jobId` and still valid; 401 otherwise. */
  async verify(token: string, jobId: string | undefined): Promise<string> {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'iat', 'sub'],
        maxTokenAge: EVENTS_TOKEN_LIFETIME_S,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw new HttpError(
        401,
        'unauthorized',
        expired
          ? 'the events token has expired; open the stream with your bearer token, or follow GET /api/jobs/{jobId}'
          : 'the events token is not valid',
      );
    }
    if (payload.scope !== SCOPE || typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new HttpError(401, 'unauthorized', 'the events token is not valid');
    }
    if (payload.jobId !== jobId) throw new HttpError(401, 'unauthorized', 'this events token is for another job');
    return payload.sub;
  }
}

/** Where a job's events stream: GET it with a bearer token, or with the token of its `eventsUrl`. */
export function eventsPath(jobId: string): string {
  return `/api/jobs/${jobId}/events`;
}
