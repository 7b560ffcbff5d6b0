import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { EVENTS_TOKEN_LIFETIME_S, EventsTokens } from './events-tokens.ts';

const SECRET = 'a-secret-of-32-or-more-characters-for-tests';
const JOB = '0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11';
const OTHER_JOB = '5d0f4c8e-8f1e-4a51-9d2b-7f3c2b1a6e90';

describe('EventsTokens', () => {
  it("makes the eventsUrl of a job, whose token opens that job's events for its user, for 15 minutes", async () => {
    const tokens = new EventsTokens(SECRET);
    const url = await tokens.eventsUrl('alice', JOB);
    expect(url).toMatch(new RegExp(`^/api/jobs/${JOB}/events\\?token=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
    const token = url.split('token=')[1] ?? '';
    // A standard HS256 JWT, though signed without jose (EventsTokens.issue): jose reads and verifies it.
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'alice', jobId: JOB, scope: 'job-events' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(EVENTS_TOKEN_LIFETIME_S);
    expect(EVENTS_TOKEN_LIFETIME_S).toBeLessThanOrEqual(15 * 60);
    await expect(tokens.verify(token, JOB)).resolves.toBe('alice');
  });

  it('refuses it for another job, once expired, or signed with another secret: 401', async () => {
    let now = Date.now();
    const tokens = new EventsTokens(SECRET, { now: () => now });
    const token = await tokens.issue('alice', JOB);
    await expect(tokens.verify(token, OTHER_JOB)).rejects.toMatchObject({
      statusCode: 401,
      message: 'this events token is for another job',
    });
    await expect(tokens.verify(token, undefined)).rejects.toMatchObject({ statusCode: 401 });
    await expect(new EventsTokens('another-secret-of-32-or-more-characters').verify(token, JOB)).rejects.toMatchObject({
      statusCode: 401,
      message: 'the events token is not valid',
    });
    now += EVENTS_TOKEN_LIFETIME_S * 1000 + 1000;
    await expect(tokens.verify(token, JOB)).rejects.toMatchObject({
      statusCode: 401,
      message: expect.stringContaining('the events token has expired'),
    });
  });

  it('is never a bearer token, nor a bearer token an events token, though both come from the same secret', async () => {
    const tokens = new EventsTokens(SECRET);
    const secret = new TextEncoder().encode(SECRET);
    // Signed with a key derived from the secret: the bearer check (HS256 with JWT_SECRET) refuses it.
    await expect(jwtVerify(await tokens.issue('alice', JOB), secret)).rejects.toThrow(/signature/);
    const bearer = await new SignJWT({ jobId: JOB, scope: 'job-events' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    await expect(tokens.verify(bearer, JOB)).rejects.toMatchObject({ statusCode: 401 });
  });
});
