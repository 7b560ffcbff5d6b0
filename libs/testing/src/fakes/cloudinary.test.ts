import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ImageKit, { toFile } from '@imagekit/nodejs';
import type { UploadApiOptions, UploadApiResponse } from 'cloudinary';
import { v2 as cloudinary } from 'cloudinary';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCloudinary } from './cloudinary.ts';
import { startFakeCloudinary } from './cloudinary.ts';
import { listen } from './http.ts';
import { startFakeImageKit } from './imagekit.ts';
import { fakeMp4 } from './video.ts';

const credentials = { cloud_name: 'demo-cloud', api_key: '123456', api_secret: 'right-secret' };
let fake: FakeCloudinary;
let png: Buffer;

beforeAll(async () => {
  fake = await startFakeCloudinary({ cloudName: 'demo-cloud', apiKey: '123456', apiSecret: 'right-secret' });
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c00' } })
    .png()
    .toBuffer();
});
afterAll(() => fake.close());

// The SDK picked `https` when it was loaded; an http.Agent per call makes it speak plain http.
function options(extra: UploadApiOptions = {}): UploadApiOptions {
  return { agent: new http.Agent(), ...extra };
}

function upload(bytes: Buffer, extra: UploadApiOptions = {}): Promise<UploadApiResponse> {
  return new Promise((resolve, reject) => {
    const stream = cloudinary.uploader.upload_stream(options(extra), (error, result) =>
      result ? resolve(result) : reject(error),
    );
    stream.end(bytes);
  });
}

// upload_large of a local path answers through its callback only (it returns the chunking stream).
function uploadLarge(path: string, extra: UploadApiOptions): Promise<UploadApiResponse> {
  return new Promise((resolve, reject) => {
    cloudinary.uploader.upload_large(path, options(extra), (error, result) =>
      result ? resolve(result) : reject(error),
    );
  });
}

function uploadChunkedStream(bytes: Buffer, extra: UploadApiOptions): Promise<UploadApiResponse> {
  return new Promise((resolve, reject) => {
    const stream = cloudinary.uploader.upload_chunked_stream(options(extra), (error, result) =>
      result ? resolve(result) : reject(error),
    );
    stream.end(bytes);
  });
}

async function status(url: string, method = 'GET'): Promise<number> {
  return (await fetch(url, { method })).status;
}

const aiImage = {
  folder: 'ai-generated-images',
  public_id: 'x',
  format: 'jpg',
  quality: 'auto:best',
  resource_type: 'image',
} as const;

describe('fake Cloudinary driven by the cloudinary SDK', () => {
  beforeAll(() => cloudinary.config({ ...credentials, upload_prefix: fake.origin }));

  it('accepts a signed upload, converts to the asked format and serves it at secure_url', async () => {
    const result = await upload(png, aiImage);
    expect(result).toMatchObject({
      public_id: 'ai-generated-images/x',
      format: 'jpg',
      resource_type: 'image',
      width: 64,
      height: 48,
      type: 'upload',
      folder: 'ai-generated-images',
    });
    expect(result.secure_url).toBe(
      `${fake.origin}/demo-cloud/image/upload/v${result.version}/ai-generated-images/x.jpg`,
    );

    const recorded = fake.uploads.at(-1);
    expect(recorded).toMatchObject({
      cloud: 'demo-cloud',
      resourceType: 'image',
      publicId: 'ai-generated-images/x',
      format: 'jpg',
    });
    expect(recorded?.params).toMatchObject({
      folder: 'ai-generated-images',
      public_id: 'x',
      format: 'jpg',
      transformation: 'q_auto:best',
    });
    expect(recorded?.bytes.equals(png)).toBe(true);

    const served = await fetch(result.secure_url);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect([...new Uint8Array(await served.arrayBuffer()).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it('rejects a wrong secret, an unknown key and a stale timestamp like the real API', async () => {
    const badSecret = await upload(png, { api_secret: 'wrong' }).catch((e: unknown) => e);
    expect(badSecret).toMatchObject({ http_code: 401 });
    expect((badSecret as { message: string }).message).toMatch(
      /^Invalid Signature \w+\. String to sign - 'timestamp=\d+'\.$/,
    );

    expect(await upload(png, { api_key: '999' }).catch((e: unknown) => e)).toMatchObject({
      http_code: 401,
      message: 'Unknown API key 999',
    });

    const stale = await upload(png, { timestamp: Math.floor(Date.now() / 1000) - 7200 }).catch((e: unknown) => e);
    expect(stale).toMatchObject({
      http_code: 400,
      message: expect.stringMatching(/^Stale request - reported time is .* more than 1 hour ago$/),
    });
  });

  it('fails the next uploads on demand, then recovers', async () => {
    fake.failNext(1);
    expect(await upload(png).catch((e: unknown) => e)).toMatchObject({ http_code: 500, message: 'General Error' });
    expect((await upload(png)).public_id).toMatch(/^[a-z0-9]{20}$/);
  });

  it('takes each operation its latency, when given one', async () => {
    const slow = await startFakeCloudinary({
      cloudName: 'demo-cloud',
      apiKey: '123456',
      apiSecret: 'right-secret',
      latencyMs: { upload: 300, rename: 150 },
    });
    try {
      let started = performance.now();
      await upload(png, { public_id: 'timed', upload_prefix: slow.origin });
      // Lower bounds only: timers never fire early.
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
      started = performance.now();
      await cloudinary.uploader.rename('timed', 'moved/timed', options({ upload_prefix: slow.origin }));
      expect(performance.now() - started).toBeGreaterThanOrEqual(145);
      expect(slow.renames).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('renames and destroys assets', async () => {
    await upload(png, { public_id: 'old' });
    const renamed = await cloudinary.uploader.rename('old', 'moved/new', options());
    expect(renamed.public_id).toBe('moved/new');
    expect((await fetch(renamed.secure_url)).status).toBe(200);
    expect(await cloudinary.uploader.rename('old', 'again', options()).catch((e: unknown) => e)).toMatchObject({
      http_code: 404,
      message: 'Resource not found - old',
    });

    expect(await cloudinary.uploader.destroy('moved/new', options())).toEqual({ result: 'ok' });
    expect(await cloudinary.uploader.destroy('moved/new', options())).toEqual({ result: 'not found' });
  });

  it('works through CLOUDINARY_URL when it is set before the SDK loads, without an agent', async () => {
    const script = `
      const { v2 } = await import('cloudinary');
      const stream = v2.uploader.upload_stream({ resource_type: 'raw' }, (error, result) => console.log(JSON.stringify(error ?? result)));
      stream.end(Buffer.from('hello'));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      // biome-ignore lint/style/noProcessEnv: the child must see CLOUDINARY_URL exactly as a deployment sets it
      env: { ...process.env, CLOUDINARY_URL: fake.cloudinaryUrl },
    });
    expect(JSON.parse(stdout)).toMatchObject({ resource_type: 'raw', bytes: 5 });
  });
});

describe('fake Cloudinary: videos, chunks, remote files, rename, destroy', () => {
  let dir: string;
  // 3 MB: three 1 MB chunks. The SDK enforces no minimum chunk size (the real API wants > 5 MB).
  const video = fakeMp4({ seconds: 2.5, width: 640, height: 360, bytes: 3_000_000 });

  beforeAll(async () => {
    cloudinary.config({ ...credentials, upload_prefix: fake.origin });
    dir = await mkdtemp(join(tmpdir(), 'fake-cloudinary-'));
    await writeFile(join(dir, 'clip.mp4'), video);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('assembles an upload_large sent in chunks and serves the video', async () => {
    const result = await uploadLarge(join(dir, 'clip.mp4'), {
      resource_type: 'video',
      chunk_size: 1_000_000,
      folder: 'uploads',
      public_id: 'clip',
    });
    expect(result).toMatchObject({
      public_id: 'uploads/clip',
      resource_type: 'video',
      format: 'mp4',
      bytes: video.length,
      duration: 2.5,
      width: 640,
      height: 360,
      // upload_large sends the file name without its extension.
      original_filename: 'clip',
    });
    expect(result.secure_url).toBe(`${fake.origin}/demo-cloud/video/upload/v${result.version}/uploads/clip.mp4`);
    const recorded = fake.uploads.at(-1);
    expect(recorded).toMatchObject({ resourceType: 'video', publicId: 'uploads/clip', format: 'mp4', chunks: 3 });
    expect(recorded?.bytes.equals(video)).toBe(true);

    const served = await fetch(result.secure_url);
    expect(served.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await served.arrayBuffer()).equals(video)).toBe(true);
    // HEAD, and the URL without a version, serve too.
    const head = await fetch(`${fake.origin}/demo-cloud/video/upload/uploads/clip.mp4`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(video.length)]);
  });

  it('assembles upload_chunked_stream too, and answers non-final chunks with done: false', async () => {
    const result = await uploadChunkedStream(video, { resource_type: 'video', chunk_size: 1_200_000, public_id: 's' });
    expect(result).toMatchObject({ public_id: 's', resource_type: 'video', bytes: video.length });
    expect(fake.uploads.at(-1)?.chunks).toBe(3);

    // What the SDK sends for a first chunk, by hand: signed params, Content-Range with total -1.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const form = new FormData();
    for (const [key, value] of Object.entries({ public_id: 'raw-chunk', timestamp })) form.append(key, value);
    form.append('signature', cloudinary.utils.api_sign_request({ public_id: 'raw-chunk', timestamp }, 'right-secret'));
    form.append('api_key', '123456');
    form.append('file', new Blob([video.subarray(0, 1000)]), 'file');
    const response = await fetch(`${fake.origin}/v1_1/demo-cloud/video/upload`, {
      method: 'POST',
      body: form,
      headers: { 'Content-Range': 'bytes 0-999/-1', 'X-Unique-Upload-Id': 'by-hand' },
    });
    expect(await response.json()).toEqual({
      done: false,
      bytes: 1000,
      type: 'upload',
      resource_type: 'video',
      public_id: 'raw-chunk',
    });
  });

  it('checks the signature of every chunk and fails chunks on demand', async () => {
    const before = fake.uploads.length;
    const badSecret = await uploadLarge(join(dir, 'clip.mp4'), {
      resource_type: 'video',
      chunk_size: 1_000_000,
      api_secret: 'wrong',
    }).catch((e: unknown) => e);
    expect(badSecret).toMatchObject({ http_code: 401, message: expect.stringMatching(/^Invalid Signature/) });

    fake.failNextOn('upload', 1, 500);
    const failed = await uploadLarge(join(dir, 'clip.mp4'), { resource_type: 'video', chunk_size: 1_000_000 }).catch(
      (e: unknown) => e,
    );
    expect(failed).toMatchObject({ http_code: 500, message: 'General Error' });
    expect(fake.uploads.length).toBe(before);
  });

  it('refuses chunks under minChunkBytes when asked to, like the real API', async () => {
    const strict = await startFakeCloudinary({
      cloudName: 'demo-cloud',
      apiKey: '123456',
      apiSecret: 'right-secret',
      minChunkBytes: 5_000_001,
    });
    try {
      const error = await uploadLarge(join(dir, 'clip.mp4'), {
        resource_type: 'video',
        chunk_size: 1_000_000,
        upload_prefix: strict.origin,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ http_code: 400 });
      // One chunk only (the last one may be small).
      const single = await uploadLarge(join(dir, 'clip.mp4'), { resource_type: 'video', upload_prefix: strict.origin });
      expect(single.bytes).toBe(video.length);
      expect(strict.uploads.at(-1)?.chunks).toBe(1);
    } finally {
      await strict.close();
    }
  });

  it('fetches a remote URL given as file (upload and upload_large alike)', async () => {
    const server = await listen((req, res) => {
      if (req.url === '/media/clip.mp4') res.writeHead(200, { 'content-type': 'video/mp4' }).end(video);
      else res.writeHead(404).end();
    });
    const { origin } = server;
    try {
      const result = await cloudinary.uploader.upload(
        `${origin}/media/clip.mp4`,
        options({ resource_type: 'video', folder: 'auto', public_id: 'fetched', overwrite: true }),
      );
      expect(result).toMatchObject({ public_id: 'auto/fetched', resource_type: 'video', format: 'mp4', duration: 2.5 });
      expect(fake.uploads.at(-1)).toMatchObject({ sourceUrl: `${origin}/media/clip.mp4`, chunks: 1 });
      expect(fake.uploads.at(-1)?.params).not.toHaveProperty('file');
      expect(Buffer.from(await (await fetch(result.secure_url)).arrayBuffer()).equals(video)).toBe(true);

      // upload_large hands a URL to upload() and returns its promise.
      const large = await cloudinary.uploader.upload_large(
        `${origin}/media/clip.mp4`,
        options({ resource_type: 'video', public_id: 'fetched-large' }),
      );
      expect(large).toMatchObject({ public_id: 'fetched-large', resource_type: 'video' });

      const missing = await cloudinary.uploader
        .upload(`${origin}/nothing.mp4`, options({ resource_type: 'video' }))
        .catch((e: unknown) => e);
      expect(missing).toMatchObject({ http_code: 404, message: `Resource not found - ${origin}/nothing.mp4` });
    } finally {
      await server.close();
    }
  });

  it('fetches a file served by the ImageKit fake', async () => {
    const imagekit = await startFakeImageKit({ privateKey: 'k' });
    try {
      const client = new ImageKit({ privateKey: 'k', baseURL: imagekit.baseUrl });
      const stored = await client.files.upload({
        file: await toFile(png, 'p.png'),
        fileName: 'p.png',
        folder: '/uploads/',
        useUniqueFileName: false,
      });
      const result = await cloudinary.uploader.upload(
        stored.url ?? '',
        options({ resource_type: 'image', folder: 'auto', public_id: 'from-imagekit' }),
      );
      expect(result).toMatchObject({ public_id: 'auto/from-imagekit', format: 'png', width: 64, height: 48 });
      expect(fake.uploads.at(-1)?.sourceUrl).toBe(stored.url);
    } finally {
      await imagekit.close();
    }
  });

  it('tells images, videos and other files apart for resource_type auto', async () => {
    const image = await upload(png, { resource_type: 'auto', public_id: 'auto-image' });
    const clip = await upload(fakeMp4(), { resource_type: 'auto', public_id: 'auto-video' });
    const text = await upload(Buffer.from('hello'), { resource_type: 'auto', public_id: 'auto-raw' });
    expect([image.resource_type, clip.resource_type, text.resource_type]).toEqual(['image', 'video', 'raw']);
    expect(clip).toMatchObject({ format: 'mp4', duration: 1 });
    expect(clip.secure_url).toContain('/demo-cloud/video/upload/');
  });

  it('renames a video within its resource type: the old URL 404s, the new one serves', async () => {
    const source = await upload(fakeMp4({ seconds: 3 }), { resource_type: 'video', folder: 'uploads', public_id: 'r' });
    const renamed = await cloudinary.uploader.rename('uploads/r', 'auto/r', options({ resource_type: 'video' }));
    expect(renamed).toMatchObject({ public_id: 'auto/r', resource_type: 'video', format: 'mp4', duration: 3 });
    expect(renamed.secure_url).toBe(`${fake.origin}/demo-cloud/video/upload/v${source.version}/auto/r.mp4`);
    expect(await status(source.secure_url)).toBe(404);
    expect(await status(renamed.secure_url)).toBe(200);
    expect(fake.renames.at(-1)).toEqual({ from: 'uploads/r', to: 'auto/r', resourceType: 'video' });

    // Videos are not found under image (the SDK's default resource_type).
    expect(await cloudinary.uploader.rename('auto/r', 'x', options()).catch((e: unknown) => e)).toMatchObject({
      http_code: 404,
      message: 'Resource not found - auto/r',
    });

    await upload(fakeMp4(), { resource_type: 'video', public_id: 'taken' });
    const clash = await cloudinary.uploader
      .rename('auto/r', 'taken', options({ resource_type: 'video' }))
      .catch((e: unknown) => e);
    expect(clash).toMatchObject({ http_code: 400 });
    const overwritten = await cloudinary.uploader.rename(
      'auto/r',
      'taken',
      options({ resource_type: 'video', overwrite: true }),
    );
    expect(overwritten).toMatchObject({ public_id: 'taken', duration: 3 });
  });

  it('destroys a video and records it', async () => {
    const clip = await upload(fakeMp4(), { resource_type: 'video', folder: 'uploads', public_id: 'd' });
    expect(await cloudinary.uploader.destroy('uploads/d', options())).toEqual({ result: 'not found' });
    expect(await cloudinary.uploader.destroy('uploads/d', options({ resource_type: 'video' }))).toEqual({
      result: 'ok',
    });
    expect(fake.destroys.at(-1)).toBe('uploads/d');
    expect(fake.destroys.filter((id) => id === 'uploads/d')).toHaveLength(1);
    expect(await status(clip.secure_url)).toBe(404);
  });

  it('fails writes on demand: failNext in arrival order, failNextOn per operation', async () => {
    await upload(png, { public_id: 'f1' });
    fake.failNext(2, 500);
    expect(await cloudinary.uploader.rename('f1', 'f2', options()).catch((e: unknown) => e)).toMatchObject({
      http_code: 500,
    });
    expect(await cloudinary.uploader.destroy('f1', options()).catch((e: unknown) => e)).toMatchObject({
      http_code: 500,
    });
    expect((await cloudinary.uploader.rename('f1', 'f2', options())).public_id).toBe('f2');

    fake.failNextOn('destroy', 1, 429);
    expect((await upload(png, { public_id: 'f3' })).public_id).toBe('f3');
    expect((await cloudinary.uploader.rename('f3', 'f4', options())).public_id).toBe('f4');
    expect(await cloudinary.uploader.destroy('f2', options()).catch((e: unknown) => e)).toMatchObject({
      http_code: 429,
    });
    expect(await cloudinary.uploader.destroy('f2', options())).toEqual({ result: 'ok' });
  });

  it('lists the stored assets with their folders', async () => {
    await upload(png, { folder: 'auto', public_id: 'listed' });
    await upload(png, { public_id: 'dynamic', asset_folder: 'auto' });
    const assets = fake.assets();
    expect(assets).toContainEqual(
      expect.objectContaining({ publicId: 'auto/listed', resourceType: 'image', folder: 'auto', assetFolder: 'auto' }),
    );
    expect(assets).toContainEqual(
      expect.objectContaining({ publicId: 'dynamic', folder: '', assetFolder: 'auto', format: 'png' }),
    );
    expect(assets).toContainEqual(expect.objectContaining({ publicId: 'auto/fetched', resourceType: 'video' }));
    // A rename with dynamic folders keeps asset_folder; with fixed folders the folder follows the id.
    await cloudinary.uploader.rename('dynamic', 'elsewhere/dynamic', options());
    await cloudinary.uploader.rename('auto/listed', 'blog_banners/listed', options());
    expect(fake.assets()).toContainEqual(
      expect.objectContaining({ publicId: 'elsewhere/dynamic', folder: 'elsewhere', assetFolder: 'auto' }),
    );
    expect(fake.assets()).toContainEqual(
      expect.objectContaining({ publicId: 'blog_banners/listed', folder: 'blog_banners', assetFolder: 'blog_banners' }),
    );
  });
});
