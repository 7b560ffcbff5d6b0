import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { makeImage } from '@mediaflow/testing';
import sharp from 'sharp';
import { Upload } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const MB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };

/** tus Upload-Metadata: `key base64(value)` pairs. */
function metadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');
}

/** The first bytes of an MP4 (an ftyp box), then `bytes` of AES-CTR noise: no two megabytes alike. */
async function writeVideo(file: string, bytes: number): Promise<string> {
  const out = createWriteStream(file);
  const noise = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const hash = createHash('sha256');
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  await write(Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]));
  for (let left = bytes - 24; left > 0; left -= MB) await write(noise.update(Buffer.alloc(Math.min(MB, left))));
  out.end();
  await finished(out);
  return hash.digest('hex');
}

async function sha256(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  const hash = createHash('sha256');
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * A loopback TCP proxy in front of the gateway that cuts the connection carrying the `cutAfter`-th byte
 * (once): a phone losing its signal mid-upload, seen from the server.
 */
async function startCuttingProxy(target: URL, cutAfter: number) {
  let forwarded = 0;
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      if (!cut && forwarded >= cutAfter) {
        cut = true;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    wasCut: () => cut,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('resumable uploads (tus 1.0 at /api/uploads)', () => {
  let stack: Stack;
  let brandId: string;
  let scratch: string;

  beforeAll(async () => {
    stack = await startStack();
    scratch = await mkdtemp(path.join(tmpdir(), 'mediaflow-tus-test-'));
    const brand = await stack.request('POST', '/api/brands', { user: 'alice', json: { name: 'Acme' } });
    brandId = ((await brand.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  /** Creates an upload with plain requests; its id is the last segment of Location. */
  async function create(
    user: string,
    length: number,
    fields: Record<string, string> = { filename: 'photo.png', filetype: 'image/png' },
  ): Promise<Response> {
    return stack.request('POST', '/api/uploads', {
      user,
      headers: { ...TUS, 'upload-length': String(length), 'upload-metadata': metadata(fields) },
    });
  }

  /** The post a completed submission wrote, with its media as GET /api/posts/:id shows them. */
  async function postOf(response: Response, user = 'alice', timeoutMs?: number) {
    expect(response.status, await response.clone().text()).toBe(202);
    const job = await stack.waitForJob(((await response.json()) as { jobId: string }).jobId, user, timeoutMs);
    expect(job.status).toBe('completed');
    const read = await stack.request('GET', `/api/posts/${String(job.result?.postId)}`, { user });
    return (await read.json()) as {
      media: Array<{ url: string; type: string; bytes: number; width: number | null; height: number | null }>;
    };
  }

  async function send(user: string, location: string, offset: number, bytes: Buffer): Promise<Response> {
    return stack.request('PATCH', location, {
      user,
      headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body: bytes,
    });
  }

  /** A finished upload of `bytes` by `user`; returns its id. */
  async function upload(user: string, bytes: Buffer, fields: Record<string, string>): Promise<string> {
    const created = await create(user, bytes.length, fields);
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    const sent = await send(user, location, 0, bytes);
    expect(sent.status, await sent.clone().text()).toBe(204);
    return location.split('/').at(-1) ?? '';
  }

  async function post(user: string, parts: Array<[string, string]>, brand = brandId): Promise<Response> {
    const form = new FormData();
    form.append('caption', 'from an upload');
    form.append('brandId', brand);
    for (const [field, value] of parts) form.append(field, value);
    return stack.request('POST', '/api/posts', { user, form });
  }

  it('takes a 300 MB video in chunks, resumes from the server’s offset after a cut connection, with flat memory', {
    timeout: 240_000,
  }, async () => {
    const size = 300 * MB;
    const chunkSize = 8 * MB;
    const source = path.join(scratch, 'big.mp4');
    const digest = await writeVideo(source, size);
    const proxy = await startCuttingProxy(new URL(stack.baseUrl), Math.floor(size * 0.55));
    const token = await stack.token('alice');
    const offsetsAtResume: number[] = [];

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    let uploadUrl = '';
    try {
      uploadUrl = await new Promise<string>((resolve, reject) => {
        const upload: Upload = new Upload(createReadStream(source), {
          endpoint: `${proxy.url}/api/uploads`,
          chunkSize,
          headers: { authorization: `Bearer ${token}` },
          metadata: { filename: 'big.mp4', filetype: 'video/mp4' },
          retryDelays: [0, 100, 500, 1000],
          onShouldRetry: () => {
            // What the server has at the moment the client notices the cut: where it goes on from.
            void stack
              .request('HEAD', new URL(upload.url ?? '').pathname, { user: 'alice', headers: TUS })
              .then((head) => offsetsAtResume.push(Number(head.headers.get('upload-offset'))));
            return true;
          },
          onError: reject,
          onSuccess: () => resolve(upload.url ?? ''),
        });
        upload.start();
      });
    } finally {
      clearInterval(sampler);
      await proxy.close();
    }
    const growthMb = (peak - baseline) / MB;
    console.info(
      `300 MB tus upload (8 MB chunks, cut at 55%): resumed at offset ${offsetsAtResume.join(', ')}; ` +
        `sent through the proxy ${(proxy.forwarded() / MB).toFixed(1)} MB; ` +
        `RSS baseline ${(baseline / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB, growth ${growthMb.toFixed(1)} MB`,
    );

    expect(proxy.wasCut()).toBe(true);
    // It went on from where the server was, not from zero: about one chunk re-sent at most.
    expect(offsetsAtResume.length).toBeGreaterThan(0);
    expect(offsetsAtResume[0]).toBeGreaterThan(size * 0.4);
    expect(offsetsAtResume[0]).toBeLessThan(size * 0.6);
    expect(proxy.forwarded()).toBeLessThan(size + 2 * chunkSize);
    // Gateway and client together (they share this process) never held the file, or a large part of it:
    // a third of it is the bound, well above the collector's own swings (5 to 35 MB seen) on a busy machine.
    expect(growthMb).toBeLessThan(100);

    const id = uploadUrl.split('/').at(-1) ?? '';
    const [media] = (await postOf(await post('alice', [['uploadId', id]]), 'alice', 120_000)).media;
    expect(media).toMatchObject({ type: 'video', bytes: size });
    expect(await sha256(media?.url ?? '')).toBe(digest);
    // Used: its bytes left the spool.
    expect(await readdir(path.join(stack.spoolDir, 'uploads'))).not.toContain(id);
  });

  it('creates an upload with Location, Upload-Expires and the protocol headers; HEAD tells the offset', async () => {
    const created = await create('alice', 100);
    expect(created.status).toBe(201);
    expect(created.headers.get('tus-resumable')).toBe('1.0.0');
    const location = created.headers.get('location') ?? '';
    expect(location).toMatch(/^\/api\/uploads\/[A-Za-z0-9_-]+$/);
    const expires = Date.parse(created.headers.get('upload-expires') ?? '');
    expect(expires - Date.now()).toBeGreaterThan(23 * 3_600_000);

    const image = await makeImage(8, 8);
    const head = await stack.request('HEAD', location, { user: 'alice', headers: TUS });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('0');
    expect(head.headers.get('upload-length')).toBe('100');
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect((await send('alice', location, 0, image.subarray(0, 10))).headers.get('upload-offset')).toBe('10');
    const wrongOffset = await send('alice', location, 0, image.subarray(0, 10));
    expect(wrongOffset.status).toBe(409);
    expect(await wrongOffset.json()).toEqual({ error: { code: 'conflict', message: expect.any(String) } });
  });

  it('refuses what it cannot take, in the API’s error shape, before storing anything', async () => {
    const cases: Array<[number, Record<string, string>, number, string]> = [
      [10, { filename: 'notes.txt', filetype: 'text/plain' }, 415, 'unsupported_media_type'],
      [10, { filename: 'photo.png' }, 400, 'invalid_input'],
      [stack.config.maxImageBytes + 1, { filename: 'huge.png', filetype: 'image/png' }, 413, 'payload_too_large'],
      [stack.config.maxVideoBytes + 1, { filename: 'huge.mp4', filetype: 'video/mp4' }, 413, 'payload_too_large'],
    ];
    for (const [length, fields, status, code] of cases) {
      const response = await create('alice', length, fields);
      expect(response.status, JSON.stringify(fields)).toBe(status);
      expect(await response.json()).toMatchObject({ error: { code } });
    }
    const deferred = await stack.request('POST', '/api/uploads', {
      user: 'alice',
      headers: {
        ...TUS,
        'upload-defer-length': '1',
        'upload-metadata': metadata({ filename: 'a.png', filetype: 'image/png' }),
      },
    });
    expect(deferred.status).toBe(400);
    const anonymous = await stack.request('POST', '/api/uploads', {
      token: null,
      headers: {
        ...TUS,
        'upload-length': '10',
        'upload-metadata': metadata({ filename: 'a.png', filetype: 'image/png' }),
      },
    });
    expect(anonymous.status).toBe(401);
    const rows = await stack.database.db.selectFrom('uploads').select('id').where('ownerId', '=', 'alice').execute();
    // Only the uploads the earlier tests created.
    expect(rows.length).toBeLessThanOrEqual(2);
  });

  it('keeps an upload to its uploader: HEAD, PATCH, DELETE and submissions of another user are 404', async () => {
    const image = await makeImage(16, 16);
    const created = await create('alice', image.length);
    const location = created.headers.get('location') ?? '';
    expect((await stack.request('HEAD', location, { user: 'mallory', headers: TUS })).status).toBe(404);
    expect((await send('mallory', location, 0, image)).status).toBe(404);
    expect((await stack.request('DELETE', location, { user: 'mallory', headers: TUS })).status).toBe(404);
    expect((await send('alice', location, 0, image)).status).toBe(204);

    const id = location.split('/').at(-1) ?? '';
    const brand = await stack.request('POST', '/api/brands', { user: 'mallory', json: { name: 'M' } });
    const theirs = await post('mallory', [['uploadId', id]], ((await brand.json()) as { id: string }).id);
    expect(theirs.status).toBe(404);
    expect(await theirs.json()).toEqual({ error: { code: 'not_found', message: `no upload ${id}` } });
  });

  it('is used once: a second submission naming it is 409, and an unfinished one is 409', async () => {
    const id = await upload('alice', await makeImage(20, 10), { filename: 'a.png', filetype: 'image/png' });
    const first = await post('alice', [['uploadId', id]]);
    expect(first.status).toBe(202);
    const again = await post('alice', [['uploadId', id]]);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/already used/);
    const job = await stack.waitForJob(((await first.json()) as { jobId: string }).jobId, 'alice');
    expect(job.status).toBe('completed');

    const unfinished = await create('alice', 1000);
    const unfinishedId = (unfinished.headers.get('location') ?? '').split('/').at(-1) ?? '';
    expect((await post('alice', [['uploadId', unfinishedId]])).status).toBe(409);
  });

  it('keeps the form’s order among files, uploads and generated assets', async () => {
    const uploaded = await upload('alice', await makeImage(30, 10), { filename: 'wide.png', filetype: 'image/png' });
    const form = new FormData();
    form.append('caption', 'mixed');
    form.append('brandId', brandId);
    form.append('media', new Blob([await makeImage(10, 30)]), 'tall.png');
    form.append('uploadId', uploaded);
    form.append('media', new Blob([await makeImage(12, 12)]), 'square.png');
    const { media } = await postOf(await stack.request('POST', '/api/posts', { user: 'alice', form }));
    expect(media.map(({ width, height }) => `${width}x${height}`)).toEqual(['10x30', '30x10', '12x12']);
  });

  it('checks a finished upload like a multipart file: wrong bytes are refused and deleted; EXIF is removed', async () => {
    const created = await create('alice', 64, { filename: 'fake.png', filetype: 'image/png' });
    const location = created.headers.get('location') ?? '';
    const refused = await send('alice', location, 0, Buffer.alloc(64, 'x'));
    expect(refused.status).toBe(415);
    expect(await refused.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    expect((await stack.request('HEAD', location, { user: 'alice', headers: TUS })).status).toBe(404);

    // A video declared as an image is refused too: the bytes decide.
    const video = Buffer.concat([Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom')]), randomBytes(100)]);
    const disguised = await create('alice', video.length, { filename: 'clip.png', filetype: 'image/png' });
    expect((await send('alice', disguised.headers.get('location') ?? '', 0, video)).status).toBe(415);

    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } })
      .withExif({ IFD0: { Make: 'PhoneCo' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
      .jpeg()
      .toBuffer();
    const id = await upload('alice', photo, { filename: 'photo.jpg', filetype: 'image/jpeg' });
    // The upload itself stays as tus counted it: HEAD says it is whole.
    const head = await stack.request('HEAD', `/api/uploads/${id}`, { user: 'alice', headers: TUS });
    expect(head.headers.get('upload-offset')).toBe(String(photo.length));
    const [media] = (await postOf(await post('alice', [['uploadId', id]]))).media;
    const stored = Buffer.from(await (await fetch(media?.url ?? '')).arrayBuffer());
    const stored_metadata = await sharp(stored).metadata();
    expect(stored_metadata).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(stored_metadata.exif).toBeUndefined();
  });

  it('terminates an upload on DELETE: its bytes and its row are gone', async () => {
    const created = await create('alice', 100);
    const location = created.headers.get('location') ?? '';
    const id = location.split('/').at(-1) ?? '';
    await send('alice', location, 0, (await makeImage(8, 8)).subarray(0, 50));
    expect(await readdir(path.join(stack.spoolDir, 'uploads'))).toContain(id);
    const deleted = await stack.request('DELETE', location, { user: 'alice', headers: TUS });
    expect(deleted.status).toBe(204);
    expect(await readdir(path.join(stack.spoolDir, 'uploads'))).not.toContain(id);
    expect(await stack.database.db.selectFrom('uploads').select('id').where('id', '=', id).execute()).toEqual([]);
    expect((await stack.request('HEAD', location, { user: 'alice', headers: TUS })).status).toBe(404);
    await expect(stat(path.join(stack.spoolDir, 'uploads', `${id}.json`))).rejects.toThrow();
  });
});

describe('resumable uploads expire after UPLOAD_TTL', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false, env: { CLEANUP_INTERVAL: '1s' } });
  });
  afterAll(() => stack?.stop());

  it('deletes unfinished and finished-but-unused uploads, bytes and rows, and counts them', async () => {
    const image = await makeImage(8, 8);
    const headers = (length: number) => ({
      ...TUS,
      'upload-length': String(length),
      'upload-metadata': metadata({ filename: 'a.png', filetype: 'image/png' }),
    });
    const unfinished = await stack.request('POST', '/api/uploads', { user: 'alice', headers: headers(1000) });
    const finished = await stack.request('POST', '/api/uploads', { user: 'alice', headers: headers(image.length) });
    const finishedAt = finished.headers.get('location') ?? '';
    const patch = await stack.request('PATCH', finishedAt, {
      user: 'alice',
      headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: image,
    });
    expect(patch.status).toBe(204);
    const ids = [unfinished, finished].map((response) => (response.headers.get('location') ?? '').split('/').at(-1));
    const uploadsDir = path.join(stack.spoolDir, 'uploads');
    expect(await readdir(uploadsDir)).toEqual(expect.arrayContaining(ids.map(String)));

    // Their UPLOAD_TTL is over (set back in the rows rather than waited for, so that no timing is involved):
    // the gateway's own retention round, every CLEANUP_INTERVAL, deletes them.
    await stack.database.db
      .updateTable('uploads')
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .execute();
    await expect
      .poll(async () => stack.database.db.selectFrom('uploads').select('id').execute(), { timeout: 10_000 })
      .toEqual([]);
    expect(await readdir(uploadsDir)).toEqual([]);
    expect(await readdir(path.join(stack.spoolDir, 'checked'))).toEqual([]);
    for (const location of [unfinished, finished].map((response) => response.headers.get('location') ?? '')) {
      expect((await stack.request('HEAD', location, { user: 'alice', headers: TUS })).status).toBe(404);
    }
    const metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    const counted = /mediaflow_retention_deleted_total\{kind="uploads"\} (\d+)/.exec(metrics);
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(2);
  });
});

describe('resumable uploads and the rate limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ inProcessWorkers: false, env: { RATE_LIMIT_WRITE: '2', RATE_LIMIT_READ: '2' } });
  });
  afterAll(() => stack?.stop());

  it('counts a creation as a write, but not the chunks and offset checks of an upload', async () => {
    const video = Buffer.concat([Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom')]), randomBytes(6 * 1024)]);
    const creation = {
      ...TUS,
      'upload-length': String(video.length),
      'upload-metadata': metadata({ filename: 'clip.mp4', filetype: 'video/mp4' }),
    };
    const created = await stack.request('POST', '/api/uploads', { user: 'alice', headers: creation });
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    // Six chunks and six offset checks: three times the per-minute write and read limits.
    for (let offset = 0; offset < video.length; offset += 1024) {
      const head = await stack.request('HEAD', location, { user: 'alice', headers: TUS });
      expect(head.headers.get('upload-offset')).toBe(String(offset));
      const sent = await stack.request('PATCH', location, {
        user: 'alice',
        headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        body: video.subarray(offset, offset + 1024),
      });
      expect(sent.status, await sent.clone().text()).toBe(204);
    }
    // Creations do count: two a minute. The limit's window may turn over once among them, so at most four
    // more can pass before one is refused.
    const statuses: number[] = [];
    let refused: Response | undefined;
    while (!refused && statuses.length < 5) {
      const response = await stack.request('POST', '/api/uploads', { user: 'alice', headers: creation });
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    expect(statuses.filter((status) => status !== 201 && status !== 429)).toEqual([]);
    expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
