import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '@mediaflow/config';
import { buildServer } from '@mediaflow/gateway';
import { createLogger } from '@mediaflow/logger';
import { buildMediaStore } from '@mediaflow/providers';
import { createRedis } from '@mediaflow/queue';
import { makeImage } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/**
 * The bounds on what one request and one user may send (issue 11, point 2): MAX_SUBMISSION_BYTES,
 * MAX_UPLOADS_IN_FLIGHT (across replicas), SPOOL_MAX_BYTES, the brand checked before any file is read,
 * a text part with a file field's name, a request's spool files deleted when its client goes away, and
 * the spool swept when a gateway starts. Requests that must stay open, stall, or go away mid-body are
 * written on raw sockets.
 */

const MB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const BOUNDARY = 'upload-bounds-boundary';
const MP4_HEAD = Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]);

/** An MP4 by its first bytes, then `marker` (to find its spool file by), then noise: `bytes` in all. */
function fakeMp4(bytes: number, marker: Buffer = randomBytes(16)): Buffer {
  const video = randomBytes(bytes);
  MP4_HEAD.copy(video);
  marker.copy(video, MP4_HEAD.length);
  return video;
}

type Part = { name: string; value: string } | { name: string; filename: string; type: string; data: Buffer };

/** A multipart/form-data body with BOUNDARY, parts in the order given. */
function multipart(parts: Part[]): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const headers =
      'value' in part
        ? `Content-Disposition: form-data; name="${part.name}"`
        : `Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.type}`;
    pieces.push(
      Buffer.from(`--${BOUNDARY}\r\n${headers}\r\n\r\n`),
      'value' in part ? Buffer.from(part.value) : part.data,
      Buffer.from('\r\n'),
    );
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(pieces);
}

/** One HTTP/1.1 chunk of a `Transfer-Encoding: chunked` body. */
function chunk(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The answer in `data`, once its head and its Content-Length of body have all arrived. */
function parseResponse(data: Buffer): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).trim().toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  const length = Number(headers['content-length'] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]),
    headers,
    body: data.subarray(end + 4, end + 4 + length).toString('utf8'),
  };
}

interface RawRequest {
  /** Body bytes handed to the socket so far. */
  sent(): number;
  /** Whether the whole answer has arrived. */
  answered(): boolean;
  /** Sends more of the body; false once the connection is gone. */
  write(bytes: Buffer): Promise<boolean>;
  /** The answer, as soon as it has arrived, whether or not the body was all sent. */
  response: Promise<RawResponse>;
  /** The client going away. */
  destroy(): void;
}

/** Opens a connection to `baseUrl` and sends a request's head; the body is the caller's to send, or not. */
async function openRequest(baseUrl: string, head: string[]): Promise<RawRequest> {
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(baseUrl).port) });
  // The gateway may close the connection while the client is still writing: that is the point of some tests.
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let received = Buffer.alloc(0);
  let answer: RawResponse | undefined;
  let sent = 0;
  const response = new Promise<RawResponse>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      answer ??= parseResponse(received);
      if (answer) resolve(answer);
    });
    socket.on('close', () =>
      reject(new Error(`the connection closed without a whole answer: ${received.toString('latin1').slice(0, 300)}`)),
    );
  });
  // Not every test waits for the answer (a client that goes away).
  response.catch(() => {});
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  return {
    sent: () => sent,
    answered: () => answer !== undefined,
    write: (bytes) =>
      new Promise<boolean>((resolve) => {
        if (socket.destroyed || !socket.writable) return resolve(false);
        socket.write(bytes, (error) => {
          if (!error) sent += bytes.length;
          resolve(!error);
        });
      }),
    response,
    destroy: () => socket.destroy(),
  };
}

/** The head of a multipart POST by `user`, with `extra` headers (Content-Length or Transfer-Encoding). */
async function multipartHead(stack: Stack, route: string, user: string, extra: string[]): Promise<string[]> {
  return [
    `POST ${route} HTTP/1.1`,
    'Host: 127.0.0.1',
    `Authorization: Bearer ${await stack.token(user)}`,
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
    ...extra,
  ];
}

function errorOf(response: RawResponse): unknown {
  return JSON.parse(response.body);
}

async function expectError(response: Response, status: number, code: string, message: RegExp | string = /./) {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(JSON.parse(text)).toEqual({ error: { code, message: expect.stringMatching(message) } });
}

/** Where the gateway spools a request's files (http/multipart.ts). */
function requestsDir(spoolDir: string): string {
  return path.join(spoolDir, 'requests');
}

/** The request spool files holding `marker`. */
async function spooledWith(spoolDir: string, marker: Buffer): Promise<string[]> {
  const dir = requestsDir(spoolDir);
  const found: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const content = await readFile(path.join(dir, name)).catch(() => undefined);
    if (content?.includes(marker)) found.push(name);
  }
  return found;
}

/**
 * Watches a spool directory for any file appearing, however briefly: inotify events (which see a file
 * created and deleted at once) and a listing every 10 ms. `stop()` returns every name seen; it first
 * writes a sentinel file and waits for its event, so that every event before it has been delivered.
 */
async function watchDir(dir: string) {
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  const sentinel = `.sentinel-${randomBytes(6).toString('hex')}`;
  let sentinelSeen: () => void = () => {};
  const flushed = new Promise<void>((resolve) => {
    sentinelSeen = resolve;
  });
  const watcher = watch(dir, (_event, name) => {
    if (!name) return;
    if (String(name) === sentinel) sentinelSeen();
    else seen.add(String(name));
  });
  const lister = setInterval(() => {
    readdir(dir).then(
      (names) => {
        for (const name of names) if (name !== sentinel) seen.add(name);
      },
      () => {},
    );
  }, 10);
  return {
    async stop(): Promise<string[]> {
      await writeFile(path.join(dir, sentinel), '');
      await flushed;
      watcher.close();
      clearInterval(lister);
      await rm(path.join(dir, sentinel), { force: true });
      return [...seen];
    },
  };
}

/** Polls `check` every 20 ms until it holds, for hooks (expect.poll works only inside a test). */
async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function createBrand(stack: Stack, user: string): Promise<string> {
  const response = await stack.request('POST', '/api/brands', { user, json: { name: `Brand of ${user}` } });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function jobsOf(stack: Stack, user: string): Promise<unknown[]> {
  return stack.database.db.selectFrom('jobs').select('id').where('ownerId', '=', user).execute();
}

async function uploadsOf(stack: Stack, user: string): Promise<unknown[]> {
  return stack.database.db.selectFrom('uploads').select('id').where('ownerId', '=', user).execute();
}

/** tus Upload-Metadata: `key base64(value)` pairs. */
function metadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');
}

/** A tus creation request of a video of `length` bytes, against any gateway of the stack. */
async function createUpload(stack: Stack, baseUrl: string, user: string, length: number): Promise<Response> {
  return fetch(`${baseUrl}/api/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await stack.token(user)}`,
      ...TUS,
      'upload-length': String(length),
      'upload-metadata': metadata({ filename: 'clip.mp4', filetype: 'video/mp4' }),
    },
  });
}

/** A small post (one PNG), against any gateway of the stack. */
async function postSmall(stack: Stack, baseUrl: string, user: string, brandId: string): Promise<Response> {
  const form = new FormData();
  form.append('caption', 'small');
  form.append('brandId', brandId);
  form.append('media', new Blob([new Uint8Array(await makeImage(16, 16))]), 'small.png');
  return fetch(`${baseUrl}/api/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await stack.token(user)}` },
    body: form,
  });
}

/** Another gateway on the stack's database, Redis (its own connection) and queue prefix: a second replica. */
async function startGateway(stack: Stack, overrides: Partial<Config> = {}) {
  const config = { ...stack.config, ...overrides };
  const logger = createLogger({ service: 'test', level: 'silent' });
  const redis = createRedis(stack.redis.url, 'producer');
  const server = buildServer(
    {
      config,
      db: stack.database.db,
      redis,
      queues: stack.queues,
      store: buildMediaStore(config, logger),
      serveLocalMedia: false,
    },
    logger,
  );
  return {
    server,
    listen: async () => {
      await server.listen({ port: 0, host: '127.0.0.1' });
      return `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    },
    close: async () => {
      await server.close();
      redis.disconnect();
    },
  };
}

describe('MAX_SUBMISSION_BYTES: one multipart request’s size', () => {
  const LIMIT = 2 * MB;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      inProcessWorkers: false,
      env: { MAX_SUBMISSION_BYTES: String(LIMIT), MAX_VIDEO_BYTES: String(10 * MB) },
    });
  });
  afterAll(() => stack?.stop());

  it('answers 413 from a Content-Length over the limit before a byte of the body is sent; nothing spooled, no job', async () => {
    const user = 'declares-too-much';
    const brandId = await createBrand(stack, user);
    const body = multipart([
      { name: 'caption', value: 'too big' },
      { name: 'brandId', value: brandId },
      { name: 'media', filename: 'big.mp4', type: 'video/mp4', data: fakeMp4(3 * MB) },
    ]);
    const watcher = await watchDir(requestsDir(stack.spoolDir));
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', user, [`Content-Length: ${body.length}`]),
    );
    // Only the head went out: the answer must come without the body.
    const response = await request.response;
    request.destroy();
    expect(request.sent()).toBe(0);
    expect(response.status).toBe(413);
    expect(errorOf(response)).toEqual({
      error: { code: 'payload_too_large', message: expect.stringMatching(/submission/) },
    });
    expect(await watcher.stop()).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('answers 413 as soon as a chunked body (no Content-Length) passes the limit mid-file, and deletes its spool file', async () => {
    const user = 'streams-too-much';
    const brandId = await createBrand(stack, user);
    const marker = randomBytes(16);
    const body = multipart([
      { name: 'caption', value: 'too big, streamed' },
      { name: 'brandId', value: brandId },
      { name: 'media', filename: 'big.mp4', type: 'video/mp4', data: fakeMp4(3 * MB, marker) },
    ]);
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', user, ['Transfer-Encoding: chunked']),
    );
    // The fields and the first half megabyte of the file: it is being spooled.
    let offset = body.indexOf(marker) + marker.length + 512 * 1024;
    expect(await request.write(chunk(body.subarray(0, offset)))).toBe(true);
    await expect.poll(() => spooledWith(stack.spoolDir, marker), { timeout: 5_000, interval: 20 }).toHaveLength(1);
    expect(request.answered()).toBe(false);

    // The rest, 64 KB at a time, until the gateway answers (it need not wait for the end).
    while (!request.answered() && offset < body.length) {
      const next = Math.min(body.length, offset + 64 * 1024);
      if (!(await request.write(chunk(body.subarray(offset, next))))) break;
      offset = next;
    }
    const response = await request.response;
    request.destroy();
    expect(response.status).toBe(413);
    expect(errorOf(response)).toEqual({
      error: { code: 'payload_too_large', message: expect.stringMatching(/submission/) },
    });
    await expect.poll(() => spooledWith(stack.spoolDir, marker), { timeout: 2_000, interval: 20 }).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('accepts a submission under the limit (202)', async () => {
    const user = 'fits';
    const brandId = await createBrand(stack, user);
    const form = new FormData();
    form.append('caption', 'fits');
    form.append('brandId', brandId);
    form.append('media', new Blob([new Uint8Array(fakeMp4(LIMIT - 64 * 1024))]), 'fits.mp4');
    const watcher = await watchDir(requestsDir(stack.spoolDir));
    const response = await stack.request('POST', '/api/posts', { user, form });
    expect(response.status, await response.clone().text()).toBe(202);
    expect(await jobsOf(stack, user)).toHaveLength(1);
    // Its file was spooled (and is deleted once answered): the watch the tests above rely on sees files.
    expect(await watcher.stop()).toHaveLength(1);
    await expect.poll(() => readdir(requestsDir(stack.spoolDir)), { timeout: 2_000, interval: 20 }).toEqual([]);
  });
});

describe('MAX_UPLOADS_IN_FLIGHT: requests carrying one user’s files, across replicas', () => {
  let stack: Stack;
  let replica: Awaited<ReturnType<typeof startGateway>>;
  let replicaUrl: string;
  let replicaSpool: string;
  let brandA: string;
  let brandB: string;
  const held: RawRequest[] = [];

  /** A post by uploader-a that sent its fields and part of its file, then stalls: a slot held. */
  async function holdUpload(): Promise<RawRequest> {
    const marker = randomBytes(16);
    const body = multipart([
      { name: 'caption', value: 'held' },
      { name: 'brandId', value: brandA },
      { name: 'media', filename: 'held.mp4', type: 'video/mp4', data: fakeMp4(MB, marker) },
    ]);
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', 'uploader-a', [`Content-Length: ${body.length}`]),
    );
    expect(await request.write(body.subarray(0, body.indexOf(marker) + marker.length + 64 * 1024))).toBe(true);
    // Its file is being spooled: the request is past its slot. (In beforeAll, where expect.poll is not allowed.)
    await waitFor(async () => (await spooledWith(stack.spoolDir, marker)).length === 1, 'a held upload spooled');
    return request;
  }

  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false, env: { MAX_UPLOADS_IN_FLIGHT: '2' } });
    brandA = await createBrand(stack, 'uploader-a');
    brandB = await createBrand(stack, 'uploader-b');
    // Each replica has its own spool (infra/k8s); what they share is Redis.
    replicaSpool = await mkdtemp(path.join(tmpdir(), 'mediaflow-replica-spool-'));
    replica = await startGateway(stack, { spoolDir: replicaSpool });
    replicaUrl = await replica.listen();
    held.push(await holdUpload(), await holdUpload());
  });
  afterAll(async () => {
    for (const request of held) request.destroy();
    await replica?.close();
    await stack?.stop();
    if (replicaSpool) await rm(replicaSpool, { recursive: true, force: true });
  });

  it('refuses a third upload request of a user while two are open: multipart and tus alike, 429 with Retry-After', async () => {
    const post = await postSmall(stack, stack.baseUrl, 'uploader-a', brandA);
    expect(post.headers.get('retry-after')).toBe('5');
    await expectError(post, 429, 'rate_limited', /in flight/);
    const tus = await createUpload(stack, stack.baseUrl, 'uploader-a', 1000);
    expect(tus.headers.get('retry-after')).toBe('5');
    await expectError(tus, 429, 'rate_limited', /in flight/);
    expect(await jobsOf(stack, 'uploader-a')).toEqual([]);
    expect(await uploadsOf(stack, 'uploader-a')).toEqual([]);
  });

  it('leaves other users alone', async () => {
    const post = await postSmall(stack, stack.baseUrl, 'uploader-b', brandB);
    expect(post.status, await post.text()).toBe(202);
    const tus = await createUpload(stack, stack.baseUrl, 'uploader-b', 1000);
    expect(tus.status, await tus.text()).toBe(201);
  });

  it('counts only requests that carry files: reads answer while the slots are full', async () => {
    for (const route of ['/api/brands', '/api/blogs']) {
      const response = await stack.request('GET', route, { user: 'uploader-a' });
      expect(response.status, `GET ${route}: ${await response.text()}`).toBe(200);
    }
  });

  it('counts the slots held on one gateway on another (Redis)', async () => {
    const post = await postSmall(stack, replicaUrl, 'uploader-a', brandA);
    expect(post.headers.get('retry-after')).toBe('5');
    await expectError(post, 429, 'rate_limited');
    const tus = await createUpload(stack, replicaUrl, 'uploader-a', 1000);
    await expectError(tus, 429, 'rate_limited');
    const other = await createUpload(stack, replicaUrl, 'uploader-b', 1000);
    expect(other.status, await other.text()).toBe(201);
    expect(await jobsOf(stack, 'uploader-a')).toEqual([]);
    expect(await uploadsOf(stack, 'uploader-a')).toEqual([]);
  });

  it('frees a slot when a held request ends: the next request passes, on either gateway', async () => {
    held.shift()?.destroy();
    const status = async (response: Promise<Response>) => {
      const answered = await response;
      await answered.text();
      return answered.status;
    };
    await expect
      .poll(() => status(postSmall(stack, stack.baseUrl, 'uploader-a', brandA)), { timeout: 5_000, interval: 50 })
      .toBe(202);
    await expect
      .poll(() => status(createUpload(stack, replicaUrl, 'uploader-a', 1000)), { timeout: 5_000, interval: 50 })
      .toBe(201);
  });
});

describe('SPOOL_MAX_BYTES: the spool’s room', () => {
  const ROOM = MB;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false, env: { SPOOL_MAX_BYTES: String(ROOM) } });
  });
  afterAll(() => stack?.stop());

  it('refuses a tus creation whose Upload-Length would pass it: 503 with Retry-After, no upload', async () => {
    const response = await createUpload(stack, stack.baseUrl, 'spool-filler', 2 * MB);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectError(response, 503, 'service_unavailable', /spool/);
    expect(await uploadsOf(stack, 'spool-filler')).toEqual([]);
    expect(await readdir(path.join(stack.spoolDir, 'uploads')).catch(() => [])).toEqual([]);
  });

  it('refuses a multipart post whose Content-Length would pass it: 503 with Retry-After, nothing spooled', async () => {
    const user = 'spool-poster';
    const brandId = await createBrand(stack, user);
    const body = multipart([
      { name: 'caption', value: 'no room' },
      { name: 'brandId', value: brandId },
      { name: 'media', filename: 'clip.mp4', type: 'video/mp4', data: fakeMp4(ROOM + 512 * 1024) },
    ]);
    const watcher = await watchDir(requestsDir(stack.spoolDir));
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', user, [`Content-Length: ${body.length}`]),
    );
    const response = await request.response;
    request.destroy();
    expect(request.sent()).toBe(0);
    expect(response.status).toBe(503);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    expect(errorOf(response)).toEqual({ error: { code: 'service_unavailable', message: expect.any(String) } });
    expect(await watcher.stop()).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('has room again once an upload is terminated or used', async () => {
    const user = 'spool-reuser';
    const brandId = await createBrand(stack, user);
    const size = 700 * 1024;
    const location = async (response: Response) => {
      expect(response.status, await response.clone().text()).toBe(201);
      return response.headers.get('location') ?? '';
    };

    const first = await location(await createUpload(stack, stack.baseUrl, user, size));
    await expectError(await createUpload(stack, stack.baseUrl, user, size), 503, 'service_unavailable');
    const ended = await stack.request('DELETE', first, { user, headers: TUS });
    expect(ended.status).toBe(204);

    // Terminated: room for another, which is then sent whole and used by a post.
    const second = await location(await createUpload(stack, stack.baseUrl, user, size));
    const sent = await stack.request('PATCH', second, {
      user,
      headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: fakeMp4(size),
    });
    expect(sent.status, await sent.clone().text()).toBe(204);
    await expectError(await createUpload(stack, stack.baseUrl, user, size), 503, 'service_unavailable');
    const form = new FormData();
    form.append('caption', 'from an upload');
    form.append('brandId', brandId);
    form.append('uploadId', second.split('/').at(-1) ?? '');
    const post = await stack.request('POST', '/api/posts', { user, form });
    expect(post.status, await post.clone().text()).toBe(202);

    // Used: its room is free again.
    await location(await createUpload(stack, stack.baseUrl, user, size));
  });
});

describe('the brand before the files, file fields, aborted requests, and the spool at start', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false });
  });
  afterAll(() => stack?.stop());

  /** Waits until earlier tests' spool files are gone, then watches for new ones. */
  async function watchEmptySpool() {
    await expect.poll(() => readdir(requestsDir(stack.spoolDir)).catch(() => []), { timeout: 2_000 }).toEqual([]);
    return watchDir(requestsDir(stack.spoolDir));
  }

  it('refuses a post whose file comes before brandId (400), spooling nothing', async () => {
    const user = 'file-first';
    const brandId = await createBrand(stack, user);
    const watcher = await watchEmptySpool();
    const form = new FormData();
    form.append('caption', 'file first');
    form.append('media', new Blob([new Uint8Array(await makeImage(16, 16))]), 'first.png');
    form.append('brandId', brandId);
    await expectError(await stack.request('POST', '/api/posts', { user, form }), 400, 'invalid_input', /brandId/);
    expect(await watcher.stop()).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('answers a non-member 404 at the first file part, before the body is sent, without a byte spooled', async () => {
    const brandId = await createBrand(stack, 'brand-owner');
    const user = 'intruder';
    const marker = randomBytes(16);
    const body = multipart([
      { name: 'caption', value: 'not my brand' },
      { name: 'brandId', value: brandId },
      { name: 'media', filename: 'big.mp4', type: 'video/mp4', data: fakeMp4(5 * MB, marker) },
    ]);
    const watcher = await watchEmptySpool();
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', user, [`Content-Length: ${body.length}`]),
    );
    // The fields, the file's part head and its first 64 KB; then the client waits.
    expect(await request.write(body.subarray(0, body.indexOf(marker) + 64 * 1024))).toBe(true);
    const response = await request.response;
    request.destroy();
    expect(response.status).toBe(404);
    expect(errorOf(response)).toEqual({ error: { code: 'not_found', message: expect.stringContaining(brandId) } });
    expect(request.sent()).toBeLessThan(body.length / 10);
    expect(await watcher.stop()).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('refuses a text part named like a file field (posts: media, blogs: banner) with 400, spooling nothing', async () => {
    const user = 'text-for-file';
    const brandId = await createBrand(stack, user);
    const watcher = await watchEmptySpool();
    const post = new FormData();
    post.append('caption', 'text media');
    post.append('brandId', brandId);
    post.append('media', 'not a file');
    post.append('media', new Blob([new Uint8Array(await makeImage(16, 16))]), 'real.png');
    await expectError(
      await stack.request('POST', '/api/posts', { user, form: post }),
      400,
      'invalid_input',
      /"media" must be a file/,
    );
    const blog = new FormData();
    blog.append('title', 'text banner');
    blog.append('content', 'words');
    blog.append('banner', 'not a file');
    blog.append('featured', new Blob([new Uint8Array(await makeImage(16, 16))]), 'real.png');
    await expectError(
      await stack.request('POST', '/api/blogs', { user, form: blog }),
      400,
      'invalid_input',
      /"banner" must be a file/,
    );
    expect(await watcher.stop()).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('deletes the spool file of a request whose client goes away mid-file, and records nothing', async () => {
    const user = 'quitter';
    const brandId = await createBrand(stack, user);
    const marker = randomBytes(16);
    const video = fakeMp4(2 * MB, marker);
    const body = multipart([
      { name: 'caption', value: 'gone' },
      { name: 'brandId', value: brandId },
      { name: 'media', filename: 'half.mp4', type: 'video/mp4', data: video },
    ]);
    const request = await openRequest(
      stack.baseUrl,
      await multipartHead(stack, '/api/posts', user, [`Content-Length: ${body.length}`]),
    );
    // Half of the file.
    expect(await request.write(body.subarray(0, body.indexOf(marker) + video.length / 2))).toBe(true);
    await expect.poll(() => spooledWith(stack.spoolDir, marker), { timeout: 5_000, interval: 20 }).toHaveLength(1);
    request.destroy();
    await expect.poll(() => spooledWith(stack.spoolDir, marker), { timeout: 2_000, interval: 20 }).toEqual([]);
    expect(await jobsOf(stack, user)).toEqual([]);
  });

  it('deletes request spool files older than REQUEST_TIMEOUT_MS when a gateway starts, and keeps fresh ones', async () => {
    expect(stack.config.requestTimeoutMs).toBeLessThan(3_600_000);
    const spoolDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-restart-spool-'));
    const dir = requestsDir(spoolDir);
    await mkdir(dir, { recursive: true });
    const old = path.join(dir, 'left-by-a-crashed-gateway');
    await writeFile(old, 'old');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, anHourAgo, anHourAgo);
    await writeFile(path.join(dir, 'a-request-in-progress'), 'fresh');

    const gateway = await startGateway(stack, { spoolDir });
    try {
      await gateway.server.ready();
      await expect.poll(() => readdir(dir), { timeout: 2_000, interval: 20 }).toEqual(['a-request-in-progress']);
    } finally {
      await gateway.close();
      await rm(spoolDir, { recursive: true, force: true });
    }
  });
});
