import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BlogsRepository, JobsRepository, PostsRepository } from '@mediaflow/db';
import { persistPost } from '@mediaflow/persistence';
import {
  type FakeCloudinary,
  type FakeImageKit,
  imageSize,
  makeImage,
  startFakeCloudinary,
  startFakeImageKit,
} from '@mediaflow/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** The first bytes of an MP4 file (an ftyp box), then noise: enough for every check that reads content. */
function fakeMp4(bytes: number): Buffer {
  const video = randomBytes(bytes);
  Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]).copy(video);
  return video;
}

type Part = [field: string, value: string | Buffer, fileName?: string];

function form(parts: Part[]): FormData {
  const data = new FormData();
  for (const [field, value, fileName] of parts) {
    if (typeof value === 'string') data.append(field, value);
    else data.append(field, new Blob([value]), fileName ?? 'file');
  }
  return data;
}

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

describe('post and blog submissions through Cloudinary and ImageKit (fakes, real SDKs)', () => {
  let cloudinary: FakeCloudinary;
  let imagekit: FakeImageKit;
  let stack: Stack;
  let brandId: string;

  async function generateAsset(user = 'alice'): Promise<{ assetId: string; url: string }> {
    const response = await stack.request('POST', '/api/ai-agent/generate-image', {
      user,
      json: { prompt: 'a mountain lake' },
    });
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, user);
    expect(job.status).toBe('completed');
    return { assetId: String(job.result?.assetId), url: String(job.result?.url) };
  }

  async function submit(route: '/api/posts' | '/api/blogs', parts: Part[], user = 'alice'): Promise<Response> {
    return stack.request('POST', route, { user, form: form(parts) });
  }

  async function counts() {
    const db = stack.database.db;
    const count = async (table: 'jobs' | 'posts' | 'media' | 'blogs') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      jobs: await count('jobs'),
      posts: await count('posts'),
      media: await count('media'),
      blogs: await count('blogs'),
      queued: (await stack.queuedJobs('storage')) + (await stack.queuedJobs('persistence')),
      cloudinaryUploads: cloudinary.uploads.length,
      imagekitUploads: imagekit.uploads.length,
      spooled: (await readdir(path.join(stack.spoolDir, 'requests')).catch(() => [])).length,
    };
  }

  beforeAll(async () => {
    cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    imagekit = await startFakeImageKit({ privateKey: 'private_test_key' });
    stack = await startStack({ cloudinary, imagekit });
    const brand = await stack.request('POST', '/api/brands', { user: 'alice', json: { name: 'Acme' } });
    expect(brand.status).toBe(201);
    brandId = ((await brand.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([cloudinary.close(), imagekit.close()]);
  });
  beforeEach(() => {
    cloudinary.renames.length = 0;
  });

  it('lists the brands you belong to', async () => {
    const response = await stack.request('GET', '/api/brands', { user: 'alice' });
    expect(await response.json()).toEqual({ items: [{ id: brandId, name: 'Acme' }] });
    expect(await (await stack.request('GET', '/api/brands', { user: 'mallory' })).json()).toEqual({ items: [] });
  });

  it('turns two images, a generated asset and a video into one post with four media rows, in order, all in auto/', async () => {
    const asset = await generateAsset();
    const first = await makeImage(800, 600, 'png');
    const second = await makeImage(640, 640, 'jpeg');
    // Over the 20 MB chunk size: it goes up in chunks, as Cloudinary requires of large files.
    const video = fakeMp4(25 * 1024 * 1024);
    const response = await submit('/api/posts', [
      ['caption', 'Launch day'],
      ['brandId', brandId],
      ['media', first, 'first.png'],
      ['assetId', asset.assetId],
      ['media', second, 'second.jpg'],
      ['media', video, 'clip.mp4'],
    ]);
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const result = job.result as { postId: string; media: Array<{ id: string; url: string; type: string }> };
    expect(result.media.map((item) => item.type)).toEqual(['image', 'image', 'image', 'video']);
    for (const item of result.media) expect(item.url).toMatch(/\/auto\/post-/);

    // What a poller sees of the chain.
    expect(job.steps?.map((step) => [step.label, step.state])).toEqual([
      ['media[0] media first.png', 'completed'],
      [`media[1] generated asset ${asset.assetId}`, 'completed'],
      ['media[2] media second.jpg', 'completed'],
      ['media[3] media clip.mp4', 'completed'],
      ['write post', 'completed'],
    ]);

    // The bytes are at each URL: the uploads as sent, the generated image as generated.
    expect((await download(result.media[0]?.url ?? '')).equals(first)).toBe(true);
    expect((await download(result.media[2]?.url ?? '')).equals(second)).toBe(true);
    expect((await download(result.media[3]?.url ?? '')).equals(video)).toBe(true);
    expect(await imageSize(await download(result.media[1]?.url ?? ''))).toMatchObject({ format: 'jpeg', width: 1024 });

    // The generated asset moved server-side: a rename, not another upload; its record says so.
    const assetRow = await stack.database.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('id', '=', asset.assetId)
      .executeTakeFirstOrThrow();
    expect(cloudinary.renames).toContainEqual(
      expect.objectContaining({ from: expect.stringMatching(/^ai-generated-images\//), to: `auto/post-${jobId}-1` }),
    );
    expect(assetRow).toMatchObject({ temporary: false, expiresAt: null, url: result.media[1]?.url });
    expect(assetRow.promotedAt).toBeInstanceOf(Date);
    expect((await fetch(asset.url)).status).toBe(404);

    // Rows in PostgreSQL.
    const rows = await stack.database.db
      .selectFrom('media')
      .selectAll()
      .where('postId', '=', result.postId)
      .orderBy('position')
      .execute();
    expect(rows.map((row) => [row.position, row.type, row.provider, row.userId, row.brandId])).toEqual([
      [0, 'image', 'cloudinary', 'alice', brandId],
      [1, 'image', 'cloudinary', 'alice', brandId],
      [2, 'image', 'cloudinary', 'alice', brandId],
      [3, 'video', 'cloudinary', 'alice', brandId],
    ]);
    expect(rows[0]).toMatchObject({ width: 800, height: 600, bytes: first.length });
    expect(rows[3]).toMatchObject({ bytes: video.length });
    expect(cloudinary.uploads.find((upload) => upload.resourceType === 'video')?.chunks).toBe(2);

    // Retrieval: delivery URLs with automatic format and quality, srcset for images, a poster for video.
    const post = (await (await stack.request('GET', `/api/posts/${result.postId}`, { user: 'alice' })).json()) as {
      caption: string;
      media: Array<{ deliveryUrl: string; srcset?: string; posterUrl?: string; type: string }>;
    };
    expect(post.caption).toBe('Launch day');
    expect(post.media[0]?.deliveryUrl).toContain('/upload/f_auto,q_auto/');
    expect(post.media[0]?.srcset).toContain('w_320');
    expect(post.media[3]?.posterUrl).toContain('/video/upload/so_0,f_jpg/');
  });

  it('puts a blog banner in blog_banners/ and a generated featured image in blog_featured/', async () => {
    const asset = await generateAsset();
    const banner = await makeImage(1600, 400, 'jpeg');
    const response = await submit('/api/blogs', [
      ['title', 'Hello world'],
      ['content', '# Hello\n\nFirst post, *as written*.'],
      ['imageAlt', 'A lake'],
      ['banner', banner, 'banner.jpg'],
      ['featuredAssetId', asset.assetId],
    ]);
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const result = job.result as { blogId: string; banner: string; image: string };
    expect(result.banner).toMatch(/\/blog_banners\/banner-/);
    expect(result.image).toMatch(/\/blog_featured\/featured-/);
    expect((await download(result.banner)).equals(banner)).toBe(true);

    const blog = (await (
      await stack.request('GET', `/api/blogs/${result.blogId}`, { user: 'alice' })
    ).json()) as Record<string, unknown>;
    // Stored as given: multipart/form-data sends a text field's line breaks as CRLF.
    expect(blog).toMatchObject({
      title: 'Hello world',
      content: '# Hello\r\n\r\nFirst post, *as written*.',
      imageAlt: 'A lake',
      banner: result.banner,
      image: result.image,
    });
    expect((await stack.request('GET', `/api/blogs/${result.blogId}`, { user: 'mallory' })).status).toBe(404);
  });

  it('promotes to ImageKit when Cloudinary fails, and records the provider', async () => {
    const image = await makeImage(300, 200, 'png');
    cloudinary.failNextOn('rename', 3, 500);
    const response = await submit('/api/posts', [
      ['caption', 'Fallback'],
      ['brandId', brandId],
      ['media', image, 'a.png'],
    ]);
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const [media] = (job.result as { media: Array<{ url: string }> }).media;
    expect(imagekit.uploads.at(-1)?.filePath).toMatch(/^\/auto\/post-/);
    expect((await download(media?.url ?? '')).equals(image)).toBe(true);
    const row = await stack.database.db
      .selectFrom('media')
      .select(['provider', 'url'])
      .where('url', '=', media?.url ?? '')
      .executeTakeFirstOrThrow();
    expect(row.provider).toBe('imagekit');
  });

  it('fails a submission whose item no store will take, naming the item and why', async () => {
    cloudinary.failNextOn('rename', 1, 400);
    imagekit.failNextOn('upload', 1, 400);
    const response = await submit('/api/posts', [
      ['caption', 'Doomed'],
      ['brandId', brandId],
      ['media', await makeImage(50, 50), 'doomed.png'],
    ]);
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'failed', error: { retryable: false } });
    expect(job.error?.message).toMatch(/^media\[0\] media doomed\.png: every store failed to promote/);
    expect(job.steps?.map((step) => step.state)).toEqual(['failed', 'queued']);
    expect(await stack.database.db.selectFrom('posts').select('id').where('jobId', '=', jobId).execute()).toEqual([]);
  });

  it('writes a post once however often its persistence job runs', async () => {
    const response = await submit('/api/posts', [
      ['caption', 'Twice'],
      ['brandId', brandId],
      ['media', await makeImage(100, 100), 'a.png'],
    ]);
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice');
    const postId = (job.result as { postId: string }).postId;
    const db = stack.database.db;
    const deps = { jobs: new JobsRepository(db), posts: new PostsRepository(db), blogs: new BlogsRepository(db) };
    const payload = {
      jobId,
      step: 1,
      authorId: 'alice',
      brandId,
      caption: 'Twice',
      scheduledAt: null,
      mediaSteps: [0],
    };
    const again = await Promise.all([persistPost(payload, deps), persistPost(payload, deps)]);
    expect(again.map((result) => result.postId)).toEqual([postId, postId]);
    expect(await db.selectFrom('posts').select('id').where('jobId', '=', jobId).execute()).toHaveLength(1);
    expect(await db.selectFrom('media').select('id').where('postId', '=', postId).execute()).toHaveLength(1);
  });

  describe('rejects bad submissions with the right 4xx, changing nothing', () => {
    it.each<[string, () => Promise<Part[]>, string, number, string]>([
      [
        'a brand you do not belong to',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
          ['media', await makeImage(10, 10), 'a.png'],
        ],
        'mallory',
        404,
        'not_found',
      ],
      [
        'a brand that does not exist',
        async () => [
          ['caption', 'x'],
          ['brandId', '00000000-0000-4000-8000-000000000000'],
          ['media', await makeImage(10, 10), 'a.png'],
        ],
        'alice',
        404,
        'not_found',
      ],
      [
        'a missing caption',
        async () => [
          ['brandId', brandId],
          ['media', await makeImage(10, 10), 'a.png'],
        ],
        'alice',
        400,
        'invalid_input',
      ],
      [
        'no media at all',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
        ],
        'alice',
        400,
        'invalid_input',
      ],
      [
        '11 files',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
          ...(await Promise.all(
            Array.from({ length: 11 }, async (_, i): Promise<Part> => ['media', await makeImage(10, 10), `${i}.png`]),
          )),
        ],
        'alice',
        413,
        'payload_too_large',
      ],
      [
        'a 21 MB image',
        async () => {
          const big = Buffer.alloc(21 * 1024 * 1024, 7);
          (await makeImage(10, 10)).copy(big);
          return [
            ['caption', 'x'],
            ['brandId', brandId],
            ['media', big, 'big.png'],
          ];
        },
        'alice',
        413,
        'payload_too_large',
      ],
      [
        'an HTML file named .jpg',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
          ['media', Buffer.from('<!doctype html><p>hi</p>'), 'photo.jpg'],
        ],
        'alice',
        415,
        'unsupported_media_type',
      ],
      [
        'a bad scheduledAt',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
          ['scheduledAt', 'tomorrow'],
          ['media', await makeImage(10, 10), 'a.png'],
        ],
        'alice',
        400,
        'invalid_input',
      ],
      [
        'an unknown file field',
        async () => [
          ['caption', 'x'],
          ['brandId', brandId],
          ['photo', await makeImage(10, 10), 'a.png'],
        ],
        'alice',
        400,
        'invalid_input',
      ],
    ])('%s', async (_what, parts, user, status, code) => {
      const before = await counts();
      const response = await submit('/api/posts', await parts(), user);
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(await counts()).toEqual(before);
    });

    it("another user's generated asset", async () => {
      const theirs = await generateAsset('bob');
      const before = await counts();
      const response = await submit('/api/posts', [
        ['caption', 'x'],
        ['brandId', brandId],
        ['assetId', theirs.assetId],
      ]);
      expect(response.status).toBe(404);
      expect(await counts()).toEqual(before);
    });

    it('a blog without a title, or with a video banner', async () => {
      const before = await counts();
      expect((await submit('/api/blogs', [['content', 'x']])).status).toBe(400);
      expect(
        (
          await submit('/api/blogs', [
            ['title', 't'],
            ['content', 'x'],
            ['banner', fakeMp4(1000), 'b.mp4'],
          ])
        ).status,
      ).toBe(415);
      expect(await counts()).toEqual(before);
    });

    it('JSON sent to a multipart route', async () => {
      const response = await stack.request('POST', '/api/posts', { json: { caption: 'x', brandId } });
      expect(response.status).toBe(415);
    });
  });

  it("pages through a brand's posts, newest first, to members only", async () => {
    const first = await stack.request('GET', `/api/posts?brandId=${brandId}&limit=2`, { user: 'alice' });
    const page = (await first.json()) as { items: Array<{ id: string; createdAt: string }>; nextCursor: string | null };
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const second = (await (
      await stack.request('GET', `/api/posts?brandId=${brandId}&limit=2&cursor=${page.nextCursor}`, { user: 'alice' })
    ).json()) as typeof page;
    const ids = [...page.items, ...second.items].map((post) => post.id);
    expect(new Set(ids).size).toBe(ids.length);
    const times = [...page.items, ...second.items].map((post) => post.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect((await stack.request('GET', `/api/posts?brandId=${brandId}`, { user: 'mallory' })).status).toBe(404);
    expect((await stack.request('GET', `/api/posts?brandId=${brandId}&cursor=garbage`, { user: 'alice' })).status).toBe(
      400,
    );
  });
});
