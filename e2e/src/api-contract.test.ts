import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeImage, signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const ROUTE = '/api/ai-agent/generate-image';

describe('gateway contract: auth, validation, errors', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  async function expectError(response: Response, status: number, code: string): Promise<string> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
    return body.error.message;
  }

  async function expectNothingQueued(): Promise<void> {
    const { count } = await stack.database.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(0);
    expect(await stack.queuedJobs('generation')).toBe(0);
  }

  function form(fields: Record<string, string | [Buffer, string]>): FormData {
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === 'string') data.append(name, value);
      else data.append(name, new Blob([value[0]]), value[1]);
    }
    return data;
  }

  it('answers liveness and readiness', async () => {
    expect(await (await stack.request('GET', '/healthz', { token: null })).json()).toEqual({ status: 'ok' });
    const ready = await stack.request('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });
  });

  it.each([
    ['no Authorization header', null],
    ['a token signed with another secret', 'other'],
    ['an expired token', 'expired'],
    ['a token without sub', 'nosub'],
    ['garbage', 'garbage'],
  ])('rejects %s with 401', async (_what, kind) => {
    const token =
      kind === null
        ? null
        : kind === 'other'
          ? await signToken('alice', { secret: 'another-secret-entirely-0123456789abcdef' })
          : kind === 'expired'
            ? await signToken('alice', { expiresIn: '-1m' })
            : kind === 'nosub'
              ? await signToken('')
              : 'not.a.jwt';
    await expectError(await stack.request('POST', ROUTE, { token, json: { prompt: 'x' } }), 401, 'unauthorized');
    await expectError(
      await stack.request('GET', '/api/jobs/00000000-0000-4000-8000-000000000000', { token }),
      401,
      'unauthorized',
    );
    await expectNothingQueued();
  });

  it.each([
    ['a missing prompt', { json: {} }],
    ['an empty prompt', { json: { prompt: '' } }],
    ['a blank prompt', { json: { prompt: '   ' } }],
    ['a prompt over 2000 characters', { json: { prompt: 'x'.repeat(2001) } }],
    ['a prompt of the wrong type', { json: { prompt: ['a', 'b'] } }],
    ['an unknown aspect ratio', { json: { prompt: 'x', aspectRatio: '21:9' } }],
    ['an unknown field', { json: { prompt: 'x', style: 'noir' } }],
    ['a reference image sent as JSON', { json: { prompt: 'x', referenceImage: { data: 'abc' } } }],
    ['malformed JSON', { body: '{"prompt": ' }],
  ])('rejects %s with 400 and queues nothing', async (_what, input) => {
    const response =
      'body' in input
        ? await fetch(`${stack.baseUrl}${ROUTE}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${await signToken('alice')}`, 'content-type': 'application/json' },
            body: input.body,
          })
        : await stack.request('POST', ROUTE, { json: input.json });
    await expectError(response, 400, 'invalid_input');
    await expectNothingQueued();
  });

  it('says which field failed', async () => {
    const message = await expectError(
      await stack.request('POST', ROUTE, { json: { prompt: 'x', aspectRatio: '2:1' } }),
      400,
      'invalid_input',
    );
    expect(message).toContain('aspectRatio');
  });

  it('rejects a multipart request without a prompt', async () => {
    const response = await stack.request('POST', ROUTE, {
      form: form({ referenceImage: [await makeImage(10, 10), 'a.png'] }),
    });
    await expectError(response, 400, 'invalid_input');
    await expectNothingQueued();
  });

  it('rejects a reference image over 20 MB with 413', async () => {
    const big = Buffer.alloc(21 * 1024 * 1024, 1);
    (await makeImage(10, 10)).copy(big);
    const response = await stack.request('POST', ROUTE, {
      form: form({ prompt: 'x', referenceImage: [big, 'big.png'] }),
    });
    await expectError(response, 413, 'payload_too_large');
    await expectNothingQueued();
  });

  it('rejects an HTML file named .jpg with 415', async () => {
    const html = Buffer.from('<!doctype html><html><body>not an image</body></html>');
    const response = await stack.request('POST', ROUTE, {
      form: form({ prompt: 'x', referenceImage: [html, 'photo.jpg'] }),
    });
    await expectError(response, 415, 'unsupported_media_type');
    await expectNothingQueued();
  });

  it('rejects a GIF reference with 415: only JPEG, PNG and WebP', async () => {
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    const response = await stack.request('POST', ROUTE, {
      form: form({ prompt: 'x', referenceImage: [gif, 'a.gif'] }),
    });
    await expectError(response, 415, 'unsupported_media_type');
    await expectNothingQueued();
  });

  it('rejects two reference images with 413', async () => {
    const data = new FormData();
    data.append('prompt', 'x');
    data.append('referenceImage', new Blob([await makeImage(10, 10)]), 'a.png');
    data.append('referenceImage', new Blob([await makeImage(10, 10)]), 'b.png');
    await expectError(await stack.request('POST', ROUTE, { form: data }), 413, 'payload_too_large');
    await expectNothingQueued();
  });

  it('reads the rest of a body it refused before reading, then closes: a client still sending gets the answer, not a reset', async () => {
    // The first file, then the second file's header: the gateway refuses (one file at most) before the
    // second file's bytes come, which this client sends only once it has the answer, as a slow link would.
    const boundary = 'contract-boundary';
    const part = (name: string, file?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"\r\nContent-Type: image/png` : ''}\r\n\r\n`;
    const before = Buffer.concat([
      Buffer.from(`${part('prompt')}x\r\n${part('referenceImage', 'a.png')}`),
      await makeImage(10, 10),
      Buffer.from(`\r\n${part('referenceImage', 'b.png')}`),
      await makeImage(12, 12),
    ]);
    const after = Buffer.from(`\r\n--${boundary}--\r\n`);
    const { hostname, port } = new URL(stack.baseUrl);
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    let answered: () => void = () => {};
    const answer = new Promise<void>((resolve) => {
      answered = resolve;
    });
    socket.on('data', (data) => {
      received.push(data);
      if (Buffer.concat(received).includes('}}')) answered();
    });
    let closedBy = '';
    const ended = new Promise<string>((resolve) => {
      const closed = (how: string) => {
        if (!closedBy) closedBy = how;
        resolve(closedBy);
      };
      socket.on('error', (error) => closed(`error: ${error.message}`));
      socket.on('end', () => closed('end'));
    });
    socket.write(
      `POST ${ROUTE} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${await signToken('alice')}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${before.length + after.length}\r\n\r\n`,
    );
    socket.write(before);
    await answer;
    // Still open a moment later: the gateway waits for the rest of the body rather than closing under it.
    await sleep(300);
    expect(closedBy).toBe('');
    const sent = await new Promise<string>((resolve) =>
      socket.write(after, (error) => resolve(error ? error.message : 'sent')),
    );
    expect(await ended).toBe('end');
    expect(sent).toBe('sent');
    socket.destroy();
    const text = Buffer.concat(received).toString();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('"code":"payload_too_large"');
    await expectNothingQueued();
  });

  it('rejects a body that is neither JSON nor multipart with 415', async () => {
    const response = await fetch(`${stack.baseUrl}${ROUTE}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await signToken('alice')}`, 'content-type': 'text/plain' },
      body: 'a lighthouse',
    });
    await expectError(response, 415, 'unsupported_media_type');
  });

  it('answers 400, not 500, to a truncated multipart body', async () => {
    const body = '--XYZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na lighthouse';
    const response = await fetch(`${stack.baseUrl}${ROUTE}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await signToken('alice')}`,
        'content-type': 'multipart/form-data; boundary=XYZ',
      },
      body,
    });
    await expectError(response, 400, 'invalid_input');
    await expectNothingQueued();
  });

  it("hides another user's job: 404, and a malformed id is 400", async () => {
    const accepted = await stack.request('POST', ROUTE, { user: 'alice', json: { prompt: 'mine' } });
    expect(accepted.status).toBe(202);
    const { jobId } = (await accepted.json()) as { jobId: string };
    await expectError(await stack.request('GET', `/api/jobs/${jobId}`, { user: 'mallory' }), 404, 'not_found');
    expect((await stack.request('GET', `/api/jobs/${jobId}`, { user: 'alice' })).status).toBe(200);
    await expectError(await stack.request('GET', '/api/jobs/not-a-uuid', { user: 'alice' }), 400, 'invalid_input');
    await stack.waitForJob(jobId, 'alice');
  });

  it('creates the user row the first time a token is seen', async () => {
    await stack.request('GET', '/api/jobs/00000000-0000-4000-8000-000000000000', { user: 'newcomer' });
    const user = await stack.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', 'newcomer')
      .executeTakeFirst();
    expect(user?.id).toBe('newcomer');
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    await expectError(await stack.request('GET', '/api/nothing-here'), 404, 'not_found');
  });
});
