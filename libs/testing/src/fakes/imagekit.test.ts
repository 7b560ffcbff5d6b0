import { createReadStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ImageKit, {
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  toFile,
} from '@imagekit/nodejs';
import { v2 as cloudinary } from 'cloudinary';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCloudinary } from './cloudinary.ts';
import { listen } from './http.ts';
import type { FakeImageKit } from './imagekit.ts';
import { startFakeImageKit } from './imagekit.ts';
import { fakeMp4 } from './video.ts';

let fake: FakeImageKit;
let client: ImageKit;
let jpeg: Buffer;

beforeAll(async () => {
  fake = await startFakeImageKit({ privateKey: 'private_key' });
  client = new ImageKit({ privateKey: 'private_key', baseURL: fake.baseUrl });
  jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#00f' } })
    .jpeg()
    .toBuffer();
});
afterAll(() => fake.close());

async function upload(on: ImageKit, folder = '/ai-generated-images/', useUniqueFileName = false) {
  return on.files.upload({ file: await toFile(jpeg, 'a.jpg'), fileName: 'a.jpg', folder, useUniqueFileName });
}

describe('fake ImageKit driven by @imagekit/nodejs', () => {
  it('uploads into the folder, records the fields and serves the file at url', async () => {
    const result = await upload(client);
    expect(result).toMatchObject({
      name: 'a.jpg',
      filePath: '/ai-generated-images/a.jpg',
      url: `${fake.urlEndpoint}/ai-generated-images/a.jpg`,
      fileType: 'image',
      width: 40,
      height: 30,
      size: jpeg.length,
    });
    expect(fake.uploads.at(-1)).toMatchObject({
      fields: { fileName: 'a.jpg', folder: '/ai-generated-images/', useUniqueFileName: 'false' },
      filePath: '/ai-generated-images/a.jpg',
    });

    const served = await fetch(result.url ?? '');
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await served.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  it('normalises the folder and adds a unique suffix by default', async () => {
    const result = await client.files.upload({
      file: await toFile(jpeg, 'a.jpg'),
      fileName: 'a.jpg',
      folder: 'ai-generated-images',
      tags: ['x', 'y'],
    });
    expect(result.filePath).toMatch(/^\/ai-generated-images\/a_[a-z0-9]{9}\.jpg$/);
    expect(result.tags).toEqual(['x', 'y']);
  });

  it('refuses a wrong private key with 401', async () => {
    const wrong = new ImageKit({ privateKey: 'other', baseURL: fake.baseUrl });
    const error = await upload(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, error: { message: 'Your account cannot be authenticated.' } });
  });

  it('fails on demand: the SDK retries twice by itself', async () => {
    fake.failNext(3, 500);
    const error = await upload(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 500 });

    fake.failNext(1);
    const before = fake.uploads.length;
    expect((await upload(client)).filePath).toBe('/ai-generated-images/a.jpg');
    expect(fake.uploads.length).toBe(before + 1);
  });

  it('moves and deletes files', async () => {
    const { fileId = '' } = await upload(client, '/tmp/');
    await client.files.move({ sourceFilePath: '/tmp/a.jpg', destinationPath: '/final/' });
    expect((await fetch(`${fake.urlEndpoint}/final/a.jpg`)).status).toBe(200);
    await expect(
      client.files.move({ sourceFilePath: '/tmp/a.jpg', destinationPath: '/final/' }),
    ).rejects.toBeInstanceOf(NotFoundError);

    await client.files.delete(fileId);
    await expect(client.files.delete(fileId)).rejects.toMatchObject({ status: 404 });
    expect((await fetch(`${fake.urlEndpoint}/final/a.jpg`)).status).toBe(404);
  });
});

describe('fake ImageKit: files from disk and URLs, videos, move, details, delete', () => {
  let dir: string;
  const video = fakeMp4({ seconds: 2.6, width: 640, height: 360, bytes: 200_000 });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-imagekit-'));
    await writeFile(join(dir, 'a.jpg'), jpeg);
    await writeFile(join(dir, 'clip.mp4'), video);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('uploads files from disk: toFile of a read stream or of fs.openAsBlob, or a bare read stream', async () => {
    const path = join(dir, 'clip.mp4');
    const sources = {
      stream: await toFile(createReadStream(path), 's.mp4'),
      blob: await toFile(await openAsBlob(path), 'b.mp4'),
      bare: createReadStream(path),
    };
    for (const [name, file] of Object.entries(sources)) {
      const result = await client.files.upload({ file, fileName: `${name}.mp4`, folder: '/disk/' });
      expect(result.size).toBe(video.length);
      expect(fake.uploads.at(-1)?.bytes.equals(video)).toBe(true);
    }
  });

  it('a bare fs.openAsBlob Blob has no name: the SDK throws before sending anything', async () => {
    const before = fake.uploads.length;
    const error = await client.files
      .upload({ file: (await openAsBlob(join(dir, 'a.jpg'))) as unknown as File, fileName: 'a.jpg' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^Invalid value given to form/);
    expect(fake.uploads.length).toBe(before);
  });

  it('stores videos as non-image files and serves them with a video content type', async () => {
    for (const [name, type] of [
      ['clip.mp4', 'video/mp4'],
      ['clip.mov', 'video/quicktime'],
      ['clip.webm', 'video/webm'],
    ] as const) {
      const result = await client.files.upload({
        file: await toFile(video, name),
        fileName: name,
        folder: '/videos/',
        useUniqueFileName: false,
      });
      expect(result).toMatchObject({ fileType: 'non-image', duration: 3, width: 640, height: 360 });
      const served = await fetch(result.url ?? '');
      expect(served.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await served.arrayBuffer()).equals(video)).toBe(true);
      const head = await fetch(result.url ?? '', { method: 'HEAD' });
      expect([head.status, head.headers.get('content-length')]).toEqual([200, String(video.length)]);
    }
  });

  it('fetches a URL given as file', async () => {
    const server = await listen((req, res) => {
      if (req.url === '/media/clip.mp4') res.writeHead(200, { 'content-type': 'video/mp4' }).end(video);
      else res.writeHead(404).end();
    });
    const { origin } = server;
    try {
      const result = await client.files.upload({
        file: `${origin}/media/clip.mp4`,
        fileName: 'fetched.mp4',
        folder: '/auto/',
        useUniqueFileName: false,
      });
      expect(result).toMatchObject({ filePath: '/auto/fetched.mp4', fileType: 'non-image', size: video.length });
      expect(fake.uploads.at(-1)).toMatchObject({
        sourceUrl: `${origin}/media/clip.mp4`,
        filePath: '/auto/fetched.mp4',
      });

      const missing = await client.files
        .upload({ file: `${origin}/nothing.mp4`, fileName: 'x.mp4' })
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(BadRequestError);
    } finally {
      await server.close();
    }
  });

  it('fetches a file served by the Cloudinary fake', async () => {
    const other = await startFakeCloudinary({ cloudName: 'c', apiKey: '1', apiSecret: 's' });
    try {
      const stored = await cloudinary.uploader.upload(`data:image/jpeg;base64,${jpeg.toString('base64')}`, {
        cloud_name: 'c',
        api_key: '1',
        api_secret: 's',
        upload_prefix: other.origin,
        agent: new http.Agent(),
        folder: 'uploads',
        public_id: 'j',
      });
      const result = await client.files.upload({
        file: stored.secure_url,
        fileName: 'j.jpg',
        folder: '/auto/',
        useUniqueFileName: false,
      });
      expect(result).toMatchObject({ filePath: '/auto/j.jpg', fileType: 'image', width: 40, height: 30 });
      expect(fake.uploads.at(-1)?.sourceUrl).toBe(stored.secure_url);
    } finally {
      await other.close();
    }
  });

  it('moves a file keeping its fileId; files.get answers the new filePath and url', async () => {
    const { fileId = '', url: oldUrl = '' } = await client.files.upload({
      file: await toFile(video, 'm.mp4'),
      fileName: 'm.mp4',
      folder: '/uploads/',
      useUniqueFileName: false,
    });
    expect(await client.files.move({ sourceFilePath: '/uploads/m.mp4', destinationPath: '/auto/' })).toBeFalsy();
    expect(fake.moves.at(-1)).toEqual({ fileId, from: '/uploads/m.mp4', to: '/auto/m.mp4' });

    const details = await client.files.get(fileId);
    expect(details).toMatchObject({
      fileId,
      type: 'file',
      name: 'm.mp4',
      filePath: '/auto/m.mp4',
      url: `${fake.urlEndpoint}/auto/m.mp4`,
      fileType: 'non-image',
      mime: 'video/mp4',
      size: video.length,
      duration: 3,
    });
    expect((await fetch(oldUrl)).status).toBe(404);
    expect((await fetch(details.url ?? '')).status).toBe(200);

    const missing = await client.files
      .move({ sourceFilePath: '/uploads/m.mp4', destinationPath: '/auto/' })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ error: { reason: 'SOURCE_FILE_MISSING' } });
    await expect(client.files.get('no-such-file')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('moving onto a same-named file makes it a new version of that file', async () => {
    const upload = (folder: string, bytes: Buffer) =>
      toFile(bytes, 'same.jpg').then((file) =>
        client.files.upload({ file, fileName: 'same.jpg', folder, useUniqueFileName: false }),
      );
    const target = await upload('/merge-to/', jpeg);
    const source = await upload('/merge-from/', video);
    await client.files.move({ sourceFilePath: '/merge-from/same.jpg', destinationPath: '/merge-to/' });
    expect(await client.files.get(target.fileId ?? '')).toMatchObject({
      filePath: '/merge-to/same.jpg',
      size: video.length,
      versionInfo: { name: 'Version 2' },
    });
    await expect(client.files.get(source.fileId ?? '')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a file and records it', async () => {
    const { fileId = '', url = '' } = await client.files.upload({
      file: await toFile(jpeg, 'del.jpg'),
      fileName: 'del.jpg',
      folder: '/uploads/',
    });
    expect(await client.files.delete(fileId)).toBeFalsy();
    expect(fake.deletes.at(-1)).toBe(fileId);
    expect((await fetch(url)).status).toBe(404);
    await expect(client.files.delete(fileId)).rejects.toBeInstanceOf(NotFoundError);
    expect(fake.deletes.filter((id) => id === fileId)).toHaveLength(1);
  });

  it('fails writes on demand: failNext in arrival order, failNextOn per operation', async () => {
    const { fileId = '' } = await client.files.upload({
      file: await toFile(jpeg, 'f.jpg'),
      fileName: 'f.jpg',
      folder: '/failing/',
      useUniqueFileName: false,
    });
    // Three failures outlast the SDK's two retries.
    fake.failNextOn('move', 3, 500);
    const uploaded = await client.files.upload({ file: await toFile(jpeg, 'g.jpg'), fileName: 'g.jpg' });
    expect(uploaded.fileId).toBeTruthy();
    await expect(
      client.files.move({ sourceFilePath: '/failing/f.jpg', destinationPath: '/moved/' }),
    ).rejects.toBeInstanceOf(InternalServerError);
    expect(fake.moves.some((move) => move.fileId === fileId)).toBe(false);

    // One failure is absorbed by the SDK's own retry.
    fake.failNextOn('delete', 1, 503);
    await client.files.delete(uploaded.fileId ?? '');
    expect(fake.deletes.at(-1)).toBe(uploaded.fileId);

    fake.failNext(3, 500);
    await expect(
      client.files.move({ sourceFilePath: '/failing/f.jpg', destinationPath: '/moved/' }),
    ).rejects.toBeInstanceOf(InternalServerError);
    await client.files.move({ sourceFilePath: '/failing/f.jpg', destinationPath: '/moved/' });
    expect(fake.files()).toContainEqual(
      expect.objectContaining({ fileId, filePath: '/moved/f.jpg', folder: '/moved/', fileType: 'image' }),
    );
  });

  it('takes each operation its latency, when given one', async () => {
    const slow = await startFakeImageKit({ privateKey: 'private_key', latencyMs: { upload: 300 } });
    try {
      const started = performance.now();
      await upload(new ImageKit({ privateKey: 'private_key', baseURL: slow.baseUrl }));
      // A lower bound only: timers never fire early.
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
      expect(slow.uploads).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });
});
