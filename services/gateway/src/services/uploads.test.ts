import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CheckedUpload, NewUpload, UploadRow } from '@mediaflow/db';
import { silentLogger } from '@mediaflow/logger';
import { makeImage } from '@mediaflow/testing';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import type { FileLimits } from './file-checks.ts';
import { SpoolBudget } from './spool-budget.ts';
import { type NewUploadRequest, type UploadFiles, Uploads } from './uploads.ts';

const TTL_MS = 60 * 60 * 1000;
const MB = 1024 * 1024;
const LIMITS: FileLimits = { maxImageBytes: 1 * MB, maxImagePixels: 100_000, maxVideoBytes: 2 * MB };

/** Upload rows as the repository's SQL keeps them: a claim takes only the owner's finished, unused rows. */
class FakeUploadsRepository {
  readonly rows = new Map<string, UploadRow>();
  failCreateWith: Error | undefined;
  failMarkCompletedWith: Error | undefined;

  async create(upload: NewUpload): Promise<void> {
    if (this.failCreateWith) throw this.failCreateWith;
    if (this.rows.has(upload.id)) throw new Error(`duplicate key: upload ${upload.id}`);
    this.rows.set(upload.id, {
      ...upload,
      resourceType: null,
      format: null,
      bytes: null,
      width: null,
      height: null,
      completedAt: null,
      usedAt: null,
      createdAt: new Date(),
    });
  }

  async findForOwner(id: string, ownerId: string): Promise<UploadRow | undefined> {
    const row = this.rows.get(id);
    return row?.ownerId === ownerId ? { ...row } : undefined;
  }

  async markCompleted(id: string, checked: CheckedUpload): Promise<void> {
    if (this.failMarkCompletedWith) throw this.failMarkCompletedWith;
    const row = this.rows.get(id);
    if (row) Object.assign(row, checked, { completedAt: new Date() });
  }

  async claim(ids: string[], ownerId: string): Promise<UploadRow[]> {
    const claimed: UploadRow[] = [];
    for (const id of ids) {
      const row = this.rows.get(id);
      if (!row || row.ownerId !== ownerId || row.completedAt === null || row.usedAt !== null) continue;
      row.usedAt = new Date();
      claimed.push({ ...row });
    }
    return claimed;
  }

  async release(ids: string[]): Promise<void> {
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row) row.usedAt = null;
    }
  }

  async delete(id: string): Promise<boolean> {
    return this.rows.delete(id);
  }

  async findExpired(now: Date, limit: number): Promise<UploadRow[]> {
    return [...this.rows.values()]
      .filter((row) => row.expiresAt < now)
      .sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime())
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function setup(options: { spoolMaxBytes?: number } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mediaflow-uploads-'));
  dirs.push(dir);
  await mkdir(path.join(dir, 'uploads'));
  await mkdir(path.join(dir, 'checked'));
  const files: UploadFiles = {
    pathOf: (id) => path.join(dir, 'uploads', id),
    checkedPathOf: (id) => path.join(dir, 'checked', id),
    remove: (id) => rm(path.join(dir, 'uploads', id), { force: true }),
  };
  const repository = new FakeUploadsRepository();
  const budget = new SpoolBudget(options.spoolMaxBytes ?? 10_000_000);
  const uploads = new Uploads({
    uploads: repository,
    files,
    budget,
    limits: LIMITS,
    ttlMs: TTL_MS,
    log: silentLogger,
  });

  /** Creates an upload declaring `filetype` and the length of `data`, and writes `data` as its bytes. */
  const start = async (id: string, ownerId: string, filetype: string, data: Buffer, filename = `${id}.bin`) => {
    await uploads.create({ id, ownerId, length: data.length, filename, filetype });
    await writeFile(files.pathOf(id), data);
  };
  /** An upload whose last byte has arrived and which passed the checks. */
  const finished = async (id: string, ownerId: string, filetype: string, data: Buffer, filename?: string) => {
    await start(id, ownerId, filetype, data, filename);
    await uploads.finish(id, ownerId);
  };
  return { dir, files, repository, budget, uploads, start, finished };
}

/** A real MP4 head (an ftyp box) and some bytes after it. */
function mp4(extra = 1000): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]),
    Buffer.alloc(extra, 7),
  ]);
}

/** A JPEG whose EXIF says which phone took it. */
function jpegWithExif(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } })
    .withExif({ IFD0: { Make: 'PhoneCo' } })
    .jpeg()
    .toBuffer();
}

/** The HttpError `promise` rejects with (fails the test if it resolves or rejects with something else). */
async function refusal(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

const request = (fields: Partial<NewUploadRequest> = {}): NewUploadRequest => ({
  id: 'u1',
  ownerId: 'alice',
  length: 1000,
  filename: 'photo.jpg',
  filetype: 'image/jpeg',
  ...fields,
});

describe('Uploads.create', () => {
  it('records the upload with an expiry of UPLOAD_TTL and holds its length on the spool', async () => {
    const { uploads, repository, budget } = await setup();
    const before = Date.now();

    const { expiresAt } = await uploads.create(request({ filename: `${'n'.repeat(250)}.jpg` }));

    expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + TTL_MS);
    expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + TTL_MS);
    expect(repository.rows.get('u1')).toMatchObject({
      ownerId: 'alice',
      filename: 'n'.repeat(200),
      filetype: 'image/jpeg',
      length: 1000,
      expiresAt,
      completedAt: null,
      usedAt: null,
    });
    expect(budget.usedBytes).toBe(1000);
  });

  it.each([
    ['without a filename', { filename: undefined }],
    ['with an empty filename', { filename: '' }],
    ['without a filetype', { filetype: undefined }],
  ])('is 400 %s, recording and holding nothing', async (_, fields) => {
    const { uploads, repository, budget } = await setup();

    const error = await refusal(uploads.create(request(fields)));

    expect(error).toMatchObject({
      statusCode: 400,
      code: 'invalid_input',
      message: 'Upload-Metadata must carry the file\'s "filename" and "filetype"',
    });
    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 400 without a length, recording and holding nothing', async () => {
    const { uploads, repository, budget } = await setup();

    const error = await refusal(uploads.create(request({ length: undefined })));

    expect(error).toMatchObject({
      statusCode: 400,
      code: 'invalid_input',
      message: 'send Upload-Length: the size must be known',
    });
    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });

  it.each([
    'image/jpeg',
    'image/png',
    'image/webp',
    'image/gif',
    'IMAGE/PNG',
    'video/mp4',
    'video/quicktime',
    'video/webm',
  ])('takes the filetype %s', async (filetype) => {
    const { uploads, repository } = await setup();

    await uploads.create(request({ filetype }));

    expect(repository.rows.get('u1')?.filetype).toBe(filetype);
  });

  it.each(['application/pdf', 'image/svg+xml', 'image/tiff', 'video/x-msvideo', 'text/plain', 'image/jpeg; x=1'])(
    'is 415 for the filetype %s, recording and holding nothing',
    async (filetype) => {
      const { uploads, repository, budget } = await setup();

      const error = await refusal(uploads.create(request({ filetype })));

      expect(error).toMatchObject({
        statusCode: 415,
        code: 'unsupported_media_type',
        message: `filetype "${filetype}" is not taken: send a JPEG, PNG, WebP or GIF image, or an MP4, MOV or WebM video`,
      });
      expect(repository.rows.size).toBe(0);
      expect(budget.usedBytes).toBe(0);
    },
  );

  it('is 413 for an image over the image limit, though a video of that size is taken', async () => {
    const { uploads, repository, budget } = await setup();
    const length = LIMITS.maxImageBytes + 1;

    const error = await refusal(uploads.create(request({ length, filetype: 'image/png' })));

    expect(error).toMatchObject({
      statusCode: 413,
      code: 'payload_too_large',
      message: '"upload" is over the image limit of 1 MB',
    });
    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);

    await uploads.create(request({ id: 'u2', length, filetype: 'video/mp4' }));
    expect(budget.usedBytes).toBe(length);
  });

  it('takes an image exactly at the image limit', async () => {
    const { uploads, budget } = await setup();

    await uploads.create(request({ length: LIMITS.maxImageBytes }));

    expect(budget.usedBytes).toBe(LIMITS.maxImageBytes);
  });

  it('is 413 for a video over the video limit', async () => {
    const { uploads, repository, budget } = await setup();

    const error = await refusal(uploads.create(request({ length: LIMITS.maxVideoBytes + 1, filetype: 'video/webm' })));

    expect(error).toMatchObject({
      statusCode: 413,
      code: 'payload_too_large',
      message: '"upload" is over the video limit of 2 MB',
    });
    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 503 with Retry-After when the spool has no room for the length, recording nothing', async () => {
    const { uploads, repository, budget } = await setup({ spoolMaxBytes: 1500 });
    await uploads.create(request({ id: 'first', length: 1000 }));

    const error = await refusal(uploads.create(request({ id: 'second', length: 501 })));

    expect(error).toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'the upload spool is full; nothing was saved, try again shortly',
      retryAfterS: 30,
    });
    expect([...repository.rows.keys()]).toEqual(['first']);
    expect(budget.usedBytes).toBe(1000);

    await uploads.create(request({ id: 'third', length: 500 }));
    expect(budget.usedBytes).toBe(1500);
  });

  it('frees the length it held when the row cannot be written, and passes the error on', async () => {
    const { uploads, repository, budget } = await setup();
    const failure = new Error('the database is down');
    repository.failCreateWith = failure;

    await expect(uploads.create(request())).rejects.toBe(failure);

    expect(budget.usedBytes).toBe(0);
    expect(repository.rows.size).toBe(0);
  });
});

describe('Uploads.assertOwner', () => {
  it("returns the caller's own upload", async () => {
    const { uploads } = await setup();
    await uploads.create(request());

    await expect(uploads.assertOwner('u1', 'alice')).resolves.toMatchObject({ id: 'u1', ownerId: 'alice' });
  });

  it("is 404 for another user's upload and for an unknown one alike", async () => {
    const { uploads } = await setup();
    await uploads.create(request());

    expect(await refusal(uploads.assertOwner('u1', 'mallory'))).toMatchObject({
      statusCode: 404,
      code: 'not_found',
      message: 'no upload u1',
    });
    expect(await refusal(uploads.assertOwner('nope', 'alice'))).toMatchObject({
      statusCode: 404,
      code: 'not_found',
      message: 'no upload nope',
    });
  });
});

describe('Uploads.finish', () => {
  it('marks an image without EXIF completed with its kind, size and pixels, making no copy', async () => {
    const { uploads, repository, files, start } = await setup();
    const png = await makeImage(40, 30, 'png');
    await start('u1', 'alice', 'image/png', png);

    await uploads.finish('u1', 'alice');

    expect(repository.rows.get('u1')).toMatchObject({
      resourceType: 'image',
      format: 'png',
      bytes: png.length,
      width: 40,
      height: 30,
      completedAt: expect.any(Date),
      usedAt: null,
    });
    expect(await exists(files.checkedPathOf('u1'))).toBe(false);
    expect(await readFile(files.pathOf('u1'))).toEqual(png);
  });

  it('takes an image whose bytes show another image format than declared', async () => {
    const { uploads, repository, start } = await setup();
    await start('u1', 'alice', 'image/jpeg', await makeImage(20, 10, 'webp'));

    await uploads.finish('u1', 'alice');

    expect(repository.rows.get('u1')).toMatchObject({ resourceType: 'image', format: 'webp', width: 20, height: 10 });
  });

  it('removes EXIF into the checked copy, leaving the upload itself byte for byte as it came', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    const photo = await jpegWithExif();
    expect((await sharp(photo).metadata()).exif).toBeDefined();
    await start('u1', 'alice', 'image/jpeg', photo);

    await uploads.finish('u1', 'alice');

    const checked = await readFile(files.checkedPathOf('u1'));
    const metadata = await sharp(checked).metadata();
    expect(metadata.exif).toBeUndefined();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(await readFile(files.pathOf('u1'))).toEqual(photo);
    expect(await exists(`${files.checkedPathOf('u1')}.stripped`)).toBe(false);
    expect(repository.rows.get('u1')).toMatchObject({
      resourceType: 'image',
      format: 'jpg',
      bytes: checked.length,
      width: 64,
      height: 48,
      completedAt: expect.any(Date),
    });
    expect(budget.usedBytes).toBe(photo.length);
  });

  it('marks a video completed with its size and no pixels', async () => {
    const { uploads, repository, files, start } = await setup();
    const clip = mp4();
    await start('u1', 'alice', 'video/mp4', clip);

    await uploads.finish('u1', 'alice');

    expect(repository.rows.get('u1')).toMatchObject({
      resourceType: 'video',
      format: 'mp4',
      bytes: clip.length,
      width: null,
      height: null,
      completedAt: expect.any(Date),
    });
    expect(await exists(files.checkedPathOf('u1'))).toBe(false);
  });

  it('is 415 for bytes of another kind than declared, and deletes the upload', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    await start('u1', 'alice', 'video/mp4', await makeImage(20, 20, 'png'));
    const kept = await makeImage(10, 10, 'png');
    await start('keep', 'alice', 'image/png', kept);

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({
      statusCode: 415,
      code: 'unsupported_media_type',
      message: '"upload u1" must be an MP4, MOV or WebM video',
    });
    expect(repository.rows.has('u1')).toBe(false);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(kept.length);
    expect(repository.rows.has('keep')).toBe(true);
    expect(await exists(files.pathOf('keep'))).toBe(true);
  });

  it('is 415 for bytes of no kind taken at all, and deletes the upload', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    await start('u1', 'alice', 'image/jpeg', Buffer.from('%PDF-1.7 not an image at all'));

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({
      statusCode: 415,
      code: 'unsupported_media_type',
      message: '"upload u1" must be a JPEG, PNG, WebP or GIF image',
    });
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 415 for an image that only starts like one, and deletes the upload', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    await start('u1', 'alice', 'image/jpeg', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(500, 1)]));

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({ statusCode: 415, code: 'unsupported_media_type' });
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 413 for a finished file over its kind limit, and deletes the upload', async () => {
    const { uploads, repository, files, budget } = await setup();
    // Declared small, but what is on disk (however it got there) is over the video limit.
    await uploads.create(request({ length: 1000, filetype: 'video/mp4' }));
    await writeFile(files.pathOf('u1'), mp4(LIMITS.maxVideoBytes));

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({
      statusCode: 413,
      code: 'payload_too_large',
      message: '"upload" is over the video limit of 2 MB',
    });
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 413 for an image over the pixel limit, and deletes the upload', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    // 400 × 300 = 120,000 pixels, over the 100,000 of the limit; small in bytes.
    await start('u1', 'alice', 'image/png', await makeImage(400, 300, 'png'));

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({
      statusCode: 413,
      code: 'payload_too_large',
      message: `"upload" is over ${LIMITS.maxImagePixels} pixels; send a smaller image`,
    });
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 413 for an image with EXIF over the pixel limit, leaving no checked copy behind', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    const big = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#884422' } })
      .withExif({ IFD0: { Make: 'PhoneCo' } })
      .jpeg()
      .toBuffer();
    await start('u1', 'alice', 'image/jpeg', big);

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(await exists(files.checkedPathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 410 when the bytes are no longer on disk, and deletes the row', async () => {
    const { uploads, repository, budget } = await setup();
    await uploads.create(request());

    const error = await refusal(uploads.finish('u1', 'alice'));

    expect(error).toMatchObject({
      statusCode: 410,
      code: 'gone',
      message: 'upload u1 is no longer on this server; upload it again',
    });
    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });

  it('is 404 for an unknown upload', async () => {
    const { uploads } = await setup();

    expect(await refusal(uploads.finish('nope', 'alice'))).toMatchObject({
      statusCode: 404,
      code: 'not_found',
      message: 'no upload nope',
    });
  });

  it('keeps the upload, its files and its hold when marking it completed fails (not a refusal)', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    const photo = await jpegWithExif();
    await start('u1', 'alice', 'image/jpeg', photo);
    const failure = new Error('the database is down');
    repository.failMarkCompletedWith = failure;

    await expect(uploads.finish('u1', 'alice')).rejects.toBe(failure);

    expect(repository.rows.get('u1')).toMatchObject({ completedAt: null });
    expect(await readFile(files.pathOf('u1'))).toEqual(photo);
    expect(budget.usedBytes).toBe(photo.length);

    // Another try, once the database is back, completes it.
    repository.failMarkCompletedWith = undefined;
    await uploads.finish('u1', 'alice');
    expect(repository.rows.get('u1')).toMatchObject({ completedAt: expect.any(Date), format: 'jpg' });
    expect((await sharp(await readFile(files.checkedPathOf('u1'))).metadata()).exif).toBeUndefined();
  });
});

describe('Uploads.claim', () => {
  it('takes finished uploads, as local files with the checked copy when there is one', async () => {
    const { uploads, repository, files, finished } = await setup();
    await finished('photo', 'alice', 'image/jpeg', await jpegWithExif(), 'holiday\u0007.jpg');
    await finished('plain', 'alice', 'image/png', await makeImage(40, 30, 'png'), 'plain.png');
    await finished('clip', 'alice', 'video/mp4', mp4(), 'clip.mp4');

    const claimed = await uploads.claim(['photo', 'plain', 'clip', 'photo'], 'alice', ['image', 'video']);

    expect([...claimed.keys()].sort()).toEqual(['clip', 'photo', 'plain']);
    expect(claimed.get('photo')).toEqual({
      uploadId: 'photo',
      field: 'upload',
      clientName: 'holiday.jpg',
      path: files.checkedPathOf('photo'),
      kind: { resourceType: 'image', format: 'jpg', mimeType: 'image/jpeg' },
      width: 64,
      height: 48,
    });
    expect(claimed.get('plain')).toEqual({
      uploadId: 'plain',
      field: 'upload',
      clientName: 'plain.png',
      path: files.pathOf('plain'),
      kind: { resourceType: 'image', format: 'png', mimeType: 'image/png' },
      width: 40,
      height: 30,
    });
    expect(claimed.get('clip')).toEqual({
      uploadId: 'clip',
      field: 'upload',
      clientName: 'clip.mp4',
      path: files.pathOf('clip'),
      kind: { resourceType: 'video', format: 'mp4', mimeType: 'video/mp4' },
    });
    for (const id of ['photo', 'plain', 'clip']) expect(repository.rows.get(id)?.usedAt).toBeInstanceOf(Date);
  });

  it('is 404 for [mine, theirs], and mine can be claimed again afterwards', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('mine', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await finished('theirs', 'bob', 'image/png', await makeImage(10, 10, 'png'));

    const error = await refusal(uploads.claim(['mine', 'theirs'], 'alice', ['image']));

    expect(error).toMatchObject({ statusCode: 404, code: 'not_found', message: 'no upload theirs' });
    expect(repository.rows.get('mine')?.usedAt).toBeNull();
    expect(repository.rows.get('theirs')?.usedAt).toBeNull();
    await expect(uploads.claim(['mine'], 'alice', ['image'])).resolves.toHaveProperty('size', 1);
  });

  it('is 404 for an unknown upload, releasing the rest', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('mine', 'alice', 'image/png', await makeImage(10, 10, 'png'));

    expect(await refusal(uploads.claim(['mine', 'ghost'], 'alice', ['image']))).toMatchObject({
      statusCode: 404,
      code: 'not_found',
      message: 'no upload ghost',
    });
    expect(repository.rows.get('mine')?.usedAt).toBeNull();
  });

  it('is 409 for an unfinished upload, releasing the rest', async () => {
    const { uploads, repository, finished, start } = await setup();
    await finished('done', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await start('halfway', 'alice', 'video/mp4', mp4());

    expect(await refusal(uploads.claim(['done', 'halfway'], 'alice', ['image', 'video']))).toMatchObject({
      statusCode: 409,
      code: 'conflict',
      message: 'upload halfway is not finished yet',
    });
    expect(repository.rows.get('done')?.usedAt).toBeNull();
    expect(repository.rows.get('halfway')?.usedAt).toBeNull();
  });

  it('is 409 for an upload another submission already used, releasing the rest but not that one', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('used', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await finished('fresh', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await uploads.claim(['used'], 'alice', ['image']);

    expect(await refusal(uploads.claim(['fresh', 'used'], 'alice', ['image']))).toMatchObject({
      statusCode: 409,
      code: 'conflict',
      message: 'upload used was already used by a submission',
    });
    expect(repository.rows.get('fresh')?.usedAt).toBeNull();
    // The first submission still has it.
    expect(repository.rows.get('used')?.usedAt).toBeInstanceOf(Date);
  });

  it('is 415 for a video claimed for an image-only field, and releases it', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('clip', 'alice', 'video/mp4', mp4());

    expect(await refusal(uploads.claim(['clip'], 'alice', ['image']))).toMatchObject({
      statusCode: 415,
      code: 'unsupported_media_type',
      message: '"upload clip" must be a JPEG, PNG, WebP or GIF image',
    });
    expect(repository.rows.get('clip')?.usedAt).toBeNull();
    await expect(uploads.claim(['clip'], 'alice', ['video'])).resolves.toHaveProperty('size', 1);
  });

  it('is 410 for a finished upload whose bytes are gone, and releases it', async () => {
    const { uploads, repository, files, finished } = await setup();
    await finished('u1', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await rm(files.pathOf('u1'));

    expect(await refusal(uploads.claim(['u1'], 'alice', ['image']))).toMatchObject({ statusCode: 410, code: 'gone' });
    expect(repository.rows.get('u1')?.usedAt).toBeNull();
  });

  it('takes nothing for no ids', async () => {
    const { uploads } = await setup();

    await expect(uploads.claim([], 'alice', ['image'])).resolves.toEqual(new Map());
  });
});

describe('Uploads.release', () => {
  it('gives claimed uploads back, to be claimed again', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('u1', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await uploads.claim(['u1'], 'alice', ['image']);

    await uploads.release(['u1']);

    expect(repository.rows.get('u1')?.usedAt).toBeNull();
    await expect(uploads.claim(['u1'], 'alice', ['image'])).resolves.toHaveProperty('size', 1);
  });
});

describe('Uploads.consumed', () => {
  it('removes the used uploads’ files and frees their room, keeping them used', async () => {
    const { uploads, repository, files, budget, finished } = await setup();
    const photo = await jpegWithExif();
    const other = await makeImage(10, 10, 'png');
    await finished('photo', 'alice', 'image/jpeg', photo);
    await finished('other', 'alice', 'image/png', other);
    await uploads.claim(['photo'], 'alice', ['image']);

    await uploads.consumed(['photo']);

    expect(await exists(files.pathOf('photo'))).toBe(false);
    expect(await exists(files.checkedPathOf('photo'))).toBe(false);
    expect(budget.usedBytes).toBe(other.length);
    expect(await exists(files.pathOf('other'))).toBe(true);
    expect(repository.rows.get('photo')?.usedAt).toBeInstanceOf(Date);
    expect(await refusal(uploads.claim(['photo'], 'alice', ['image']))).toMatchObject({
      statusCode: 409,
      message: 'upload photo was already used by a submission',
    });
  });
});

describe('Uploads.terminated', () => {
  it('deletes the row and the checked copy and frees the room', async () => {
    const { uploads, repository, files, budget, finished } = await setup();
    await finished('u1', 'alice', 'image/jpeg', await jpegWithExif());
    // The tus server deletes the upload's own bytes before telling the service.
    await files.remove('u1');

    await uploads.terminated('u1');

    expect(repository.rows.size).toBe(0);
    expect(await exists(files.checkedPathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });

  it('ends an unfinished upload', async () => {
    const { uploads, repository, budget } = await setup();
    await uploads.create(request());

    await uploads.terminated('u1');

    expect(repository.rows.size).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });
});

describe('Uploads.finish by another user', () => {
  it('is 404 and leaves the upload alone', async () => {
    const { uploads, repository, files, budget, start } = await setup();
    const image = await makeImage(10, 10, 'png');
    await start('u1', 'alice', 'image/png', image);
    await expect(uploads.finish('u1', 'mallory')).rejects.toMatchObject({ statusCode: 404 });
    expect(repository.rows.has('u1')).toBe(true);
    expect(await exists(files.pathOf('u1'))).toBe(true);
    expect(budget.usedBytes).toBe(image.length);
  });
});

describe('Uploads.expire', () => {
  it('deletes expired uploads with their files, used or not (a stopped gateway may have left a used one), and counts them', async () => {
    const { uploads, repository, files, budget, finished, start } = await setup();
    const photo = await jpegWithExif();
    await finished('unused', 'alice', 'image/jpeg', photo);
    await start('unfinished', 'alice', 'video/mp4', mp4());
    await finished('used', 'alice', 'image/png', await makeImage(10, 10, 'png'));
    await uploads.claim(['used'], 'alice', ['image']);
    const fresh = await makeImage(12, 12, 'png');
    await finished('fresh', 'alice', 'image/png', fresh);
    const later = new Date(Date.now() + TTL_MS / 2);
    for (const id of ['unused', 'unfinished', 'used']) {
      const row = repository.rows.get(id);
      if (row) row.expiresAt = new Date(Date.now() - 1000);
    }
    const usedBytes = budget.usedBytes;

    const deleted = await uploads.expire(later);

    expect(deleted).toBe(3);
    expect([...repository.rows.keys()]).toEqual(['fresh']);
    expect(await exists(files.pathOf('unused'))).toBe(false);
    expect(await exists(files.checkedPathOf('unused'))).toBe(false);
    expect(await exists(files.pathOf('unfinished'))).toBe(false);
    // Taken by a submission whose answer never came (its gateway stopped): nothing else would remove it.
    expect(await exists(files.pathOf('used'))).toBe(false);
    expect(await exists(files.pathOf('fresh'))).toBe(true);
    expect(budget.usedBytes).toBe(usedBytes - photo.length - mp4().length - (await makeImage(10, 10, 'png')).length);
  });

  it('deletes nothing before expiry', async () => {
    const { uploads, repository, finished } = await setup();
    await finished('u1', 'alice', 'image/png', await makeImage(10, 10, 'png'));

    expect(await uploads.expire()).toBe(0);
    expect(repository.rows.has('u1')).toBe(true);
  });

  it('expires everything once UPLOAD_TTL has passed', async () => {
    const { uploads, repository, files, budget, finished } = await setup();
    await finished('u1', 'alice', 'image/png', await makeImage(10, 10, 'png'));

    expect(await uploads.expire(new Date(Date.now() + TTL_MS + 1000))).toBe(1);
    expect(repository.rows.size).toBe(0);
    expect(await exists(files.pathOf('u1'))).toBe(false);
    expect(budget.usedBytes).toBe(0);
  });
});
