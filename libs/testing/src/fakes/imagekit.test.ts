import ImageKit, { AuthenticationError, InternalServerError, NotFoundError, toFile } from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeImageKit } from './imagekit.ts';
import { startFakeImageKit } from './imagekit.ts';

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
