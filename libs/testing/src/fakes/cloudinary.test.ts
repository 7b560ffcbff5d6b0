import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import type { UploadApiOptions, UploadApiResponse } from 'cloudinary';
import { v2 as cloudinary } from 'cloudinary';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCloudinary } from './cloudinary.ts';
import { startFakeCloudinary } from './cloudinary.ts';

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
