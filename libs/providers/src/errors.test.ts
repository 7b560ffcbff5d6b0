import { describe, expect, it } from 'vitest';
import { providerErrorFromStatus, retryAfterFromHeaders } from './errors.ts';

describe('providerErrorFromStatus', () => {
  it("calls a 429, and Cloudinary's 420, a quota refusal that keeps the delay asked for", () => {
    expect(providerErrorFromStatus('gemini', 429, 'quota', undefined, 2_000)).toMatchObject({
      code: 'provider_quota',
      retryable: true,
      retryAfterMs: 2_000,
      message: 'Gemini is rate limiting or out of quota (429): quota; it asks to wait 2 s',
    });
    expect(providerErrorFromStatus('cloudinary', 420, 'Rate Limit Exceeded')).toMatchObject({
      code: 'provider_quota',
      retryAfterMs: undefined,
    });
  });
});

describe('retryAfterFromHeaders', () => {
  const headers = (values: Record<string, string>) => new Headers(values);

  it('reads retry-after-ms, Retry-After in seconds, and Retry-After as a date', () => {
    expect(retryAfterFromHeaders(headers({ 'retry-after-ms': '1500' }))).toBe(1_500);
    expect(retryAfterFromHeaders(headers({ 'retry-after': '3' }))).toBe(3_000);
    const at = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterFromHeaders(headers({ 'retry-after': at }))).toBeGreaterThan(8_000);
  });

  it('has none when there is none or it cannot be read', () => {
    expect(retryAfterFromHeaders(undefined)).toBeUndefined();
    expect(retryAfterFromHeaders(headers({}))).toBeUndefined();
    expect(retryAfterFromHeaders(headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});
