import { readdir } from 'node:fs/promises';
import { signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** A small seeded generator (mulberry32), so a failing case can be found again from its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T };
}

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  "' OR 1=1; DROP TABLE jobs; --",
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00%2e%2e%2f',
  '\u202egnp.exe',
  '👩‍👩‍👧‍👦'.repeat(50),
  '\ud800',
  'x'.repeat(300_000),
  '{"$ne": null}',
  '<script>alert(1)</script>',
  '00000000-0000-0000-0000-000000000000',
];
/** encodeURIComponent throws on a lone surrogate; send its replacement instead. */
const enc = (value: string) => encodeURIComponent(value.toWellFormed());

/** Values of the wrong type for every field (a SQL-looking string would be a valid prompt). */
const ODD_VALUES: unknown[] = [null, 0, -1, 1e308, true, [], [[]], {}, { $gt: '' }, ['a', 'b']];

describe('fuzzing every route with malformed input', () => {
  let stack: Stack;
  let brandId: string;
  let token: string;

  beforeAll(async () => {
    stack = await startStack();
    token = await signToken('fuzzer');
    brandId = (
      (await (await stack.request('POST', '/api/brands', { token, json: { name: 'Fuzz' } })).json()) as { id: string }
    ).id;
  });
  afterAll(() => stack.stop());

  async function snapshot() {
    const db = stack.database.db;
    const counts = await Promise.all(
      (
        [
          'jobs',
          'posts',
          'media',
          'blogs',
          'brands',
          'generated_assets',
          'idempotency_keys',
          'webhooks',
          'webhook_deliveries',
        ] as const
      ).map(async (table) =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ),
    );
    const files = await readdir(stack.mediaDir, { recursive: true });
    return {
      counts,
      files: files.length,
      queued: (await stack.queuedJobs('generation')) + (await stack.queuedJobs('storage')),
    };
  }

  /** One malformed request: what goes on the wire. */
  function malformed(rng: ReturnType<typeof random>): {
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string | FormData | Uint8Array;
  } {
    const odd = () => rng.pick(ODD_STRINGS);
    const oddValue = () => rng.pick(ODD_VALUES);
    const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const form = (fields: Array<[string, string | Blob]>) => {
      const data = new FormData();
      for (const [name, value] of fields)
        data.append(name, value, ...(value instanceof Blob ? [odd().slice(0, 100) || 'f'] : []));
      return { headers: {}, body: data };
    };
    const cases = [
      () => ({ method: 'POST', path: '/api/ai-agent/generate-image', ...json({ prompt: oddValue() }) }),
      () => ({
        method: 'POST',
        path: '/api/ai-agent/generate-image',
        ...json({ prompt: 'x'.repeat(2001) + odd(), aspectRatio: odd() }),
      }),
      () => ({ method: 'POST', path: '/api/ai-agent/generate-image', ...json({ prompt: 'a\u0000b' }) }),
      () => ({ method: 'POST', path: '/api/ai-agent/generate-image', ...json({ [odd().slice(0, 50)]: odd() }) }),
      () => ({
        method: 'POST',
        path: '/api/ai-agent/generate-image',
        headers: { 'content-type': 'application/json' },
        body: odd().slice(0, 1000) || '{',
      }),
      () => ({
        method: 'POST',
        path: '/api/ai-agent/generate-image',
        ...form([
          ['prompt', ''],
          ['referenceImage', new Blob([odd()])],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/ai-agent/generate-image',
        headers: { 'content-type': 'multipart/form-data; boundary=zz' },
        body: `--zz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n${odd().slice(0, 500)}`,
      }),
      () => ({
        method: 'POST',
        path: '/api/ai-agent/generate-image',
        headers: { 'content-type': 'multipart/form-data' },
        body: 'no boundary at all',
      }),
      () => ({
        method: 'POST',
        path: '/api/posts',
        ...form([
          ['caption', odd()],
          ['brandId', odd()],
          ['media', new Blob([odd()])],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/posts',
        ...form([
          ['caption', 'a\u0000b'],
          ['brandId', brandId],
          ['assetId', odd()],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/posts',
        ...form([
          ['caption', 'x'],
          ['brandId', brandId],
          ['scheduledAt', odd()],
          ['media', new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])])],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/posts',
        ...form(Array.from({ length: 40 }, () => ['assetId', odd()] as [string, string])),
      }),
      () => ({ method: 'POST', path: '/api/posts', ...json({ caption: odd(), brandId }) }),
      () => ({
        method: 'POST',
        path: '/api/blogs',
        ...form([
          ['title', odd()],
          ['content', oddValue() as string],
          ['banner', new Blob([odd()])],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/blogs',
        ...form([
          ['title', 't'],
          ['content', 'a\u0000'],
          ['featuredAssetId', odd()],
        ]),
      }),
      () => ({
        method: 'POST',
        path: '/api/brands',
        ...json({
          name: rng.pick(['', 'x'.repeat(201), 'a\u0000b', ...ODD_VALUES.filter((v) => typeof v !== 'string')]),
        }),
      }),
      () => ({ method: 'POST', path: '/api/brands', headers: { 'content-type': 'text/plain' }, body: odd() }),
      () => ({ method: 'GET', path: `/api/jobs/${enc(odd().slice(0, 300))}`, headers: {} }),
      () => ({ method: 'GET', path: `/api/posts/${enc(odd().slice(0, 300))}`, headers: {} }),
      () => ({
        method: 'GET',
        path: `/api/posts?brandId=${enc(odd().slice(0, 300))}&cursor=${enc(odd().slice(0, 300))}`,
        headers: {},
      }),
      () => ({ method: 'GET', path: `/api/posts?brandId=${brandId}&limit=${enc(odd().slice(0, 20))}`, headers: {} }),
      () => ({ method: 'GET', path: `/api/blogs?cursor=${enc(odd().slice(0, 300))}`, headers: {} }),
      () => ({ method: 'GET', path: `/api/blogs/${enc(odd().slice(0, 300))}`, headers: {} }),
      () => ({ method: 'GET', path: `/api/admin/jobs/failed?queue=${enc(odd().slice(0, 50))}`, headers: {} }),
      () => ({
        method: 'POST',
        path: '/api/brands',
        headers: {
          'content-type': 'application/json',
          'idempotency-key':
            odd()
              .slice(0, 300)
              .replace(/[^\x20-\x7e]/g, '?') || ' ',
        },
        body: '{"name": 7}',
      }),
      () => ({ method: 'POST', path: '/api/webhooks', ...json({ url: oddValue(), events: oddValue() }) }),
      () => ({ method: 'POST', path: '/api/webhooks', ...json({ url: odd(), events: [odd()] }) }),
      // Refused by the SSRF guard: literal addresses only, so nothing is resolved or called.
      () => ({
        method: 'POST',
        path: '/api/webhooks',
        ...json({
          url: rng.pick([
            'http://93.184.216.34/hook',
            'https://127.0.0.1/hook',
            'https://10.0.0.1/hook',
            'https://169.254.169.254/latest/meta-data',
            'https://[::1]/hook',
            'https://[::ffff:127.0.0.1]/hook',
            'https://user:pass@93.184.216.34/hook',
            'ftp://93.184.216.34/hook',
          ]),
        }),
      }),
      () => ({ method: 'DELETE', path: `/api/webhooks/${enc(odd().slice(0, 300))}`, headers: {} }),
      () => ({ method: 'GET', path: `/api/webhooks/${enc(odd().slice(0, 300))}/deliveries`, headers: {} }),
      () => ({ method: 'GET', path: `/media/${enc(odd().slice(0, 200))}`, headers: {} }),
      () => ({ method: 'GET', path: '/api/jobs/%E0%A4%A', headers: {} }),
      () => ({ method: 'GET', path: '/media/..%2f..%2fetc%2fpasswd', headers: {} }),
    ];
    return rng.pick(cases)();
  }

  it('answers 500 malformed requests with a 4xx in the error shape, never a 500, and changes nothing', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    for (let seed = 1; seed <= 500; seed++) {
      const rng = random(seed);
      const request = malformed(rng);
      const response = await fetch(`${stack.baseUrl}${request.path}`, {
        method: request.method,
        headers: { authorization: `Bearer ${token}`, ...request.headers },
        body: request.body,
      }).catch((error: unknown) => error as Error);
      if (response instanceof Error) {
        failures.push(
          `seed ${seed}: ${request.method} ${request.path.slice(0, 80)} -> ${response.message} ${String(response.cause)}`,
        );
        continue;
      }
      const text = await response.text();
      let shaped = false;
      try {
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        shaped = typeof body.error?.code === 'string' && typeof body.error?.message === 'string';
      } catch {
        shaped = false;
      }
      if (response.status < 400 || response.status >= 500 || !shaped) {
        failures.push(
          `seed ${seed}: ${request.method} ${request.path.slice(0, 80)} -> ${response.status} ${text.slice(0, 200)}`,
        );
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  }, 120_000);
});
