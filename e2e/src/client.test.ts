import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createClient,
  type JobStatus,
  type MediaflowClient,
  MediaflowError,
  type SubmitPostResult,
} from '@mediaflow/client';
import { normaliseDocument, SCHEMA_PATH, SNAPSHOT_PATH, schemaSource } from '@mediaflow/client/codegen';
import { type FakeGemini, fakeMp4, makeImage, signToken, startFakeGemini } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** A fetch that records what it was asked and answered, and may stand in for some routes. */
function recordingFetch(standIn?: (request: Request) => Response | undefined) {
  const calls: Array<{ method: string; path: string; headers: Headers; status: number | 'failed' }> = [];
  const fetchImpl = async (request: Request): Promise<Response> => {
    const call = { method: request.method, path: new URL(request.url).pathname, headers: request.headers };
    let response: Response | undefined;
    try {
      response = standIn?.(request) ?? (await fetch(request));
    } catch (error) {
      calls.push({ ...call, status: 'failed' });
      throw error;
    }
    calls.push({ ...call, status: response.status });
    return response;
  };
  return { calls, fetch: fetchImpl };
}

const png = async (width: number, height: number) => new Blob([new Uint8Array(await makeImage(width, height))]);
const MB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('@mediaflow/client against the gateway', () => {
  let stack: Stack;
  // Its `slow` answers keep a job running for as long as a test needs it to.
  let gemini: FakeGemini;
  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    stack = await startStack({ gemini });
  });
  afterAll(async () => {
    await stack?.stop();
    await gemini?.close();
  });

  const clientFor = (user: string, fetchImpl?: (request: Request) => Promise<Response>): MediaflowClient =>
    createClient({ baseUrl: stack.baseUrl, token: () => signToken(user), ...(fetchImpl ? { fetch: fetchImpl } : {}) });

  describe('the committed contract', () => {
    it('libs/client/openapi.json is what the gateway serves (else run npm run generate:client)', async () => {
      const served = normaliseDocument((await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as object);
      const snapshot = JSON.parse(await readFile(SNAPSHOT_PATH, 'utf8'));
      expect(served).toEqual(snapshot);
    });

    it('libs/client/src/schema.ts is what openapi-typescript makes of it (else run npm run generate:client)', async () => {
      const snapshot = JSON.parse(await readFile(SNAPSHOT_PATH, 'utf8'));
      expect(await readFile(SCHEMA_PATH, 'utf8')).toBe(await schemaSource(snapshot));
    });

    it('types a job by its kind, with a result per kind', async () => {
      const document = JSON.parse(await readFile(SNAPSHOT_PATH, 'utf8'));
      const schema = document.paths['/api/jobs/{jobId}'].get.responses['200'].content['application/json'].schema;
      expect(schema).toEqual({ $ref: '#/components/schemas/JobStatus' });
      expect(document.components.schemas.JobStatus.discriminator).toEqual({
        propertyName: 'kind',
        mapping: {
          'generate-image': '#/components/schemas/GenerateImageJobStatus',
          'submit-post': '#/components/schemas/SubmitPostJobStatus',
          'submit-blog': '#/components/schemas/SubmitBlogJobStatus',
        },
      });
      const source = await readFile(SCHEMA_PATH, 'utf8');
      expect(source).toMatch(/kind: 'generate-image';/);
      expect(source).not.toMatch(/result\?: \{\s*\[key: string\]: unknown/);
    });
  });

  it('generates from a reference image and follows the job to its end, with every update', async () => {
    const client = clientFor('alice');
    const accepted = await client.generateImage({
      prompt: 'a lighthouse at dusk',
      referenceImage: await png(320, 180),
    });
    expect(accepted).toMatchObject({ status: 'queued', statusUrl: `/api/jobs/${accepted.jobId}` });
    const updates: JobStatus[] = [];
    const job = await client.watchJob(accepted.jobId, {
      eventsUrl: accepted.eventsUrl,
      onUpdate: (update) => updates.push(update),
    });
    expect(job.status).toBe('completed');
    expect(updates.at(-1)).toEqual(job);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    if (job.kind !== 'generate-image') throw new Error(`a ${job.kind} job`);
    // Typed by its kind: a generation's result.
    expect(job.result).toMatchObject({ aspectRatio: '16:9', format: 'jpg', provider: 'local' });
    expect(await client.getJob(accepted.jobId)).toEqual(job);
  });

  it('follows the event stream when the gateway has one, from the eventsUrl or with the bearer token', async () => {
    const recorder = recordingFetch();
    const client = clientFor('alice', recorder.fetch);
    const accepted = await client.generateImage({ prompt: 'a harbour' });
    await client.watchJob(accepted.jobId, { eventsUrl: accepted.eventsUrl });
    await client.watchJob(accepted.jobId);
    const events = recorder.calls.filter((call) => call.path.endsWith('/events'));
    expect(events.map((call) => call.status)).toEqual([200, 200]);
    expect(events[0]?.headers.has('authorization')).toBe(false);
    expect(events[1]?.headers.get('authorization')).toMatch(/^Bearer /);
    expect(recorder.calls.filter((call) => call.path === `/api/jobs/${accepted.jobId}`)).toEqual([]);
  });

  it('submits a post with a file and a generated image, and a blog, and lists them', async () => {
    const client = clientFor('bob');
    const generated = await client.watchJob((await client.generateImage({ prompt: 'a forest' })).jobId);
    if (generated.kind !== 'generate-image' || !generated.result) throw new Error('no generation result');
    const brand = await client.createBrand('Client Brand');
    expect(await client.listBrands()).toContainEqual(brand);

    const postJob = await client.watchJob(
      (
        await client.submitPost({
          brandId: brand.id,
          caption: 'from the client',
          media: [new File([await makeImage(64, 64)], 'photo.png'), { assetId: generated.result.assetId }],
        })
      ).jobId,
    );
    expect(postJob).toMatchObject({ kind: 'submit-post', status: 'completed' });
    if (postJob.kind !== 'submit-post') throw new Error(`a ${postJob.kind} job`);
    const result: SubmitPostResult | undefined = postJob.result;
    expect(result?.media.map((item) => item.type)).toEqual(['image', 'image']);
    expect(postJob.steps?.map((step) => step.kind)).toEqual(['promote-media', 'promote-media', 'persist-post']);
    const posts = await client.listPosts(brand.id, { limit: 10 });
    expect(posts.items.map((post) => post.id)).toEqual([result?.postId]);

    const blogJob = await client.watchJob(
      (
        await client.submitBlog({
          title: 'Client blog',
          content: 'Written through @mediaflow/client.',
          imageAlt: 'a forest',
          banner: await png(120, 40),
          featured: { assetId: generated.result.assetId },
        })
      ).jobId,
    );
    if (blogJob.kind !== 'submit-blog' || blogJob.status !== 'completed') throw new Error(JSON.stringify(blogJob));
    expect(blogJob.result).toMatchObject({ banner: expect.any(String), image: expect.any(String) });
    expect((await client.listBlogs()).items.map((blog) => blog.id)).toEqual([blogJob.result?.blogId]);
  });

  it("throws the API's errors as MediaflowError, with their status and code", async () => {
    const client = clientFor('carol');
    const missing = client.getJob('00000000-0000-4000-8000-000000000000');
    await expect(missing).rejects.toBeInstanceOf(MediaflowError);
    await expect(missing).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(client.generateImage({ prompt: '' })).rejects.toMatchObject({ status: 400, code: 'invalid_input' });
    await expect(client.watchJob('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
    const anonymous = createClient({ baseUrl: stack.baseUrl });
    await expect(anonymous.listBrands()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    const key = 'client-idempotency-key';
    await client.createBrand('Once', { idempotencyKey: key });
    await expect(client.createBrand('Another', { idempotencyKey: key })).rejects.toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
    });
  });

  it.each([
    {
      what: 'answers 404',
      tries: 1,
      standIn: () => Response.json({ error: { code: 'not_found', message: 'no route' } }, { status: 404 }),
    },
    {
      what: 'cannot be reached',
      tries: 2,
      standIn: () => {
        throw new TypeError('fetch failed');
      },
    },
  ])('polls with If-None-Match when the events route $what', async ({ tries, standIn }) => {
    const recorder = recordingFetch((request) => (request.url.includes('/events') ? standIn() : undefined));
    const client = clientFor('dave', recorder.fetch);
    gemini.script({ kind: 'slow', ms: 5_000 });
    const accepted = await client.generateImage({ prompt: 'a quiet street' });
    const updates: string[] = [];
    const job = await client.watchJob(accepted.jobId, {
      eventsUrl: accepted.eventsUrl,
      onUpdate: (update) => updates.push(update.status),
    });
    expect(job.status).toBe('completed');
    expect(updates.at(-1)).toBe('completed');
    // While the job ran, polls were answered 304 (nothing changed), and no update came twice.
    expect(new Set(updates).size).toBe(updates.length);
    const polls = recorder.calls.filter((call) => call.path === `/api/jobs/${accepted.jobId}`);
    const unchanged = polls.find((call) => call.status === 304);
    expect(unchanged?.headers.get('if-none-match')).toMatch(/^"/);
    const events = recorder.calls.filter((call) => call.path.endsWith('/events'));
    expect(events.length).toBe(tries);
  });

  describe('resumable uploads', () => {
    it('uploads a 20 MB video from a Buffer in chunks, and a post names it among files in order', async () => {
      const client = clientFor('frank');
      const video = fakeMp4({ seconds: 3, bytes: 20 * MB });
      const progress: Array<[number, number]> = [];
      const uploadId = await client.upload(video, {
        filename: 'launch.mp4',
        filetype: 'video/mp4',
        onProgress: (sent, total) => progress.push([sent, total]),
      });
      expect(uploadId).toMatch(/^[A-Za-z0-9_-]+$/);
      // In chunks of 5 MB: progress went up to the whole file, never backwards.
      expect(progress.at(-1)).toEqual([video.length, video.length]);
      const sent = progress.map(([bytes]) => bytes);
      expect(sent).toEqual([...sent].sort((a, b) => a - b));
      const upload = await stack.database.db
        .selectFrom('uploads')
        .selectAll()
        .where('id', '=', uploadId)
        .executeTakeFirstOrThrow();
      expect(upload).toMatchObject({ ownerId: 'frank', filename: 'launch.mp4', resourceType: 'video' });
      expect(upload.completedAt).not.toBeNull();

      const brand = await client.createBrand('Uploads Brand');
      const photo = new File([new Uint8Array(await makeImage(64, 48))], 'photo.png');
      const accepted = await client.submitPost({
        brandId: brand.id,
        caption: 'a launch',
        media: [photo, { uploadId }],
      });
      const job = await client.watchJob(accepted.jobId, { eventsUrl: accepted.eventsUrl });
      if (job.kind !== 'submit-post' || job.status !== 'completed' || !job.result) throw new Error(JSON.stringify(job));
      expect(job.result.media.map((item) => item.type)).toEqual(['image', 'video']);
      const stored = await fetch(job.result.media[1]?.url ?? '');
      expect(sha256(new Uint8Array(await stored.arrayBuffer()))).toBe(sha256(video));
      // Used once: a second post naming it is refused.
      await expect(
        client.submitPost({ brandId: brand.id, caption: 'again', media: [{ uploadId }] }),
      ).rejects.toMatchObject({ status: 409, code: 'conflict' });
    });

    it("uploads a Blob in Node (its type by default) as a blog's banner", async () => {
      const client = clientFor('frank');
      const banner = new File([new Uint8Array(await makeImage(320, 100))], 'banner.png', { type: 'image/png' });
      const uploadId = await client.upload(banner);
      const row = await stack.database.db
        .selectFrom('uploads')
        .select(['filename', 'filetype'])
        .where('id', '=', uploadId)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ filename: 'banner.png', filetype: 'image/png' });
      const job = await client.watchJob(
        (await client.submitBlog({ title: 'Uploaded banner', content: 'Sent in chunks.', banner: { uploadId } })).jobId,
      );
      if (job.kind !== 'submit-blog' || job.status !== 'completed') throw new Error(JSON.stringify(job));
      expect(job.result?.banner).toContain('/media/blog_banners/');
    });

    it("rejects with the gateway's error as MediaflowError", async () => {
      const client = clientFor('frank');
      const text = client.upload(Buffer.from('not a picture'), { filename: 'notes.txt', filetype: 'text/plain' });
      await expect(text).rejects.toBeInstanceOf(MediaflowError);
      await expect(text).rejects.toMatchObject({ status: 415, code: 'unsupported_media_type' });
      // The bytes decide, when the last chunk arrives: a PNG declared as a video.
      await expect(
        client.upload(await makeImage(16, 16), { filename: 'clip.mp4', filetype: 'video/mp4' }),
      ).rejects.toMatchObject({ status: 415, code: 'unsupported_media_type' });
      const anonymous = createClient({ baseUrl: stack.baseUrl });
      await expect(anonymous.upload(fakeMp4(), { filetype: 'video/mp4' })).rejects.toMatchObject({
        status: 401,
        code: 'unauthorized',
      });
    });

    it('uploads from a ReadStream, named by its path; stops when its signal aborts, and the server deletes what it had', async () => {
      const client = clientFor('grace');
      const scratch = await mkdtemp(path.join(tmpdir(), 'mediaflow-client-'));
      const rows = () =>
        stack.database.db.selectFrom('uploads').select(['filename']).where('ownerId', '=', 'grace').execute();
      try {
        const file = path.join(scratch, 'long-take.mp4');
        await writeFile(file, fakeMp4({ bytes: 12 * MB }));
        const whole = await client.upload(createReadStream(file), { filetype: 'video/mp4' });
        expect(await rows()).toEqual([{ filename: 'long-take.mp4' }]);
        await stack.request('DELETE', `/api/uploads/${whole}`, {
          user: 'grace',
          headers: { 'tus-resumable': '1.0.0' },
        });

        const controller = new AbortController();
        const uploading = client.upload(createReadStream(file), {
          filetype: 'video/mp4',
          chunkSize: MB,
          // After the first chunk the server has an upload to delete.
          onProgress: (sent) => {
            if (sent >= MB) controller.abort();
          },
          signal: controller.signal,
        });
        await expect(uploading).rejects.toMatchObject({ name: 'AbortError' });
        // Its row was made when the upload was created, before the first chunk: terminating deleted it.
        await expect.poll(rows).toEqual([]);
        await expect(
          client.upload(fakeMp4(), { filetype: 'video/mp4', signal: controller.signal }),
        ).rejects.toMatchObject({ name: 'AbortError' });
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });
  });

  it('stops watching when its signal aborts', async () => {
    const client = clientFor('erin');
    gemini.script({ kind: 'slow', ms: 1_000 });
    const accepted = await client.generateImage({ prompt: 'a slow one' });
    const controller = new AbortController();
    const updates: string[] = [];
    const watching = client.watchJob(accepted.jobId, {
      signal: controller.signal,
      onUpdate: (job) => updates.push(job.status),
    });
    setTimeout(() => controller.abort(), 200);
    await expect(watching).rejects.toMatchObject({ name: 'AbortError' });
    expect(updates).not.toContain('completed');
  });
});
