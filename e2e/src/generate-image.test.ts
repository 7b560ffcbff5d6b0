import {
  type FakeCloudinary,
  type FakeGemini,
  type FakeImageKit,
  imageSize,
  makeImage,
  startFakeCloudinary,
  startFakeGemini,
  startFakeImageKit,
} from '@mediaflow/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

async function submit(stack: Stack, fields: Record<string, string | Blob>, user = 'alice'): Promise<string> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields))
    form.append(name, value, ...(value instanceof Blob ? ['reference.png'] : []));
  const response = await stack.request('POST', '/api/ai-agent/generate-image', { user, form });
  expect(response.status).toBe(202);
  const body = (await response.json()) as { jobId: string; status: string; statusUrl: string; eventsUrl: string };
  expect(body).toEqual({
    jobId: expect.any(String),
    status: 'queued',
    statusUrl: `/api/jobs/${body.jobId}`,
    eventsUrl: expect.stringMatching(`^/api/jobs/${body.jobId}/events\\?token=`),
  });
  return body.jobId;
}

async function fetchImage(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return imageSize(Buffer.from(await response.arrayBuffer()));
}

describe('generation with the local stand-ins (no credentials)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('turns a JSON prompt into a 1:1 JPEG served under /media/, with its provenance recorded', async () => {
    const response = await stack.request('POST', '/api/ai-agent/generate-image', {
      user: 'alice',
      json: { prompt: 'a lighthouse at dusk' },
    });
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };

    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ jobId, kind: 'generate-image', status: 'completed', attempts: 1 });
    expect(job.result).toMatchObject({
      provider: 'local',
      aspectRatio: '1:1',
      format: 'jpg',
      width: 1024,
      height: 1024,
    });
    const url = String(job.result?.url);
    expect(url).toMatch(new RegExp(`^${stack.baseUrl}/media/ai-generated-images/ai-generated-\\d+-[0-9a-f]{8}\\.jpg$`));
    expect(await fetchImage(url)).toEqual({ format: 'jpeg', width: 1024, height: 1024 });

    const asset = await stack.database.db.selectFrom('generated_assets').selectAll().executeTakeFirstOrThrow();
    expect(asset).toMatchObject({
      id: job.result?.assetId,
      ownerId: 'alice',
      jobId,
      prompt: 'a lighthouse at dusk',
      model: 'local-placeholder',
      aspectRatio: '1:1',
      provider: 'local',
      temporary: true,
      referenceSha256: null,
    });
    expect(asset.enhancedPrompt).toContain('Style guidelines');
    expect(asset.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
  });

  it('follows the reference image: a 1080x1920 photo gives a 9:16 image', async () => {
    const jobId = await submit(stack, {
      prompt: 'a tall tower',
      referenceImage: new Blob([await makeImage(1080, 1920, 'jpeg')]),
    });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.result).toMatchObject({ aspectRatio: '9:16', width: 756, height: 1344 });
  });
});

describe('generation through Gemini, Cloudinary and ImageKit (local fakes, real SDKs)', () => {
  let gemini: FakeGemini;
  let cloudinary: FakeCloudinary;
  let imagekit: FakeImageKit;
  let stack: Stack;

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    imagekit = await startFakeImageKit({ privateKey: 'private_test_key' });
    stack = await startStack({ gemini, cloudinary, imagekit });
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([gemini.close(), cloudinary.close(), imagekit.close()]);
  });
  beforeEach(() => {
    gemini.requests.length = 0;
    cloudinary.uploads.length = 0;
    imagekit.uploads.length = 0;
  });

  it('sends the model, ratio, prompt and reference to Gemini and the JPEG to Cloudinary', async () => {
    const reference = await makeImage(1920, 1080);
    const jobId = await submit(stack, { prompt: 'a red fox in the snow', referenceImage: new Blob([reference]) });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'completed', attempts: 1 });
    expect(job.result).toMatchObject({
      provider: 'cloudinary',
      aspectRatio: '16:9',
      format: 'jpg',
      width: 1344,
      height: 768,
    });

    expect(gemini.requests).toHaveLength(1);
    const sent = gemini.requests[0];
    expect(sent).toMatchObject({ model: 'gemini-3-pro-image-preview', aspectRatio: '16:9' });
    expect(sent?.text.startsWith('a red fox in the snow\n\nStyle guidelines:')).toBe(true);
    expect(sent?.referenceImage?.bytes.equals(reference)).toBe(true);
    expect(sent?.body.generationConfig?.responseModalities).toEqual(['IMAGE']);

    expect(cloudinary.uploads).toHaveLength(1);
    const upload = cloudinary.uploads[0];
    expect(upload?.params).toMatchObject({
      folder: 'ai-generated-images',
      format: 'jpg',
      transformation: 'q_auto:best',
    });
    expect(upload?.params.public_id).toMatch(/^ai-generated-\d+-[0-9a-f]{8}$/);
    expect(upload?.publicId).toBe(`ai-generated-images/${upload?.params.public_id}`);
    expect(await imageSize(upload?.bytes ?? Buffer.alloc(0))).toMatchObject({ format: 'jpeg' });
    expect(await fetchImage(String(job.result?.url))).toEqual({ format: 'jpeg', width: 1344, height: 768 });

    const asset = await stack.database.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('jobId', '=', jobId)
      .executeTakeFirstOrThrow();
    expect(asset).toMatchObject({
      provider: 'cloudinary',
      providerId: upload?.publicId,
      model: 'gemini-3-pro-image-preview',
    });
    expect(asset.referenceSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('lets aspectRatio override the reference image', async () => {
    const jobId = await submit(stack, {
      prompt: 'a square',
      aspectRatio: '1:1',
      referenceImage: new Blob([await makeImage(1080, 1920)]),
    });
    expect((await stack.waitForJob(jobId, 'alice')).result).toMatchObject({ aspectRatio: '1:1' });
    expect(gemini.requests[0]?.aspectRatio).toBe('1:1');
  });

  it('center-crops an image the model drew at another ratio', async () => {
    gemini.script({ kind: 'image', width: 1024, height: 1024 });
    const jobId = await submit(stack, { prompt: 'a wide valley', aspectRatio: '16:9' });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.result).toMatchObject({ aspectRatio: '16:9', width: 1024, height: 576 });
    expect(await fetchImage(String(job.result?.url))).toMatchObject({ width: 1024, height: 576 });
  });

  it('falls back to ImageKit when Cloudinary keeps failing', async () => {
    cloudinary.failNext(3, 500);
    const jobId = await submit(stack, { prompt: 'a harbour' });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'completed' });
    expect(job.result).toMatchObject({ provider: 'imagekit' });
    expect(cloudinary.uploads).toHaveLength(0);
    expect(imagekit.uploads).toHaveLength(1);
    expect(imagekit.uploads[0]?.fields).toMatchObject({ folder: '/ai-generated-images/', useUniqueFileName: 'false' });
    expect(imagekit.uploads[0]?.filePath).toMatch(/^\/ai-generated-images\/ai-generated-\d+-[0-9a-f]{8}\.jpg$/);
    expect(await fetchImage(String(job.result?.url))).toMatchObject({ format: 'jpeg' });
    const asset = await stack.database.db
      .selectFrom('generated_assets')
      .select('provider')
      .where('jobId', '=', jobId)
      .executeTakeFirstOrThrow();
    expect(asset.provider).toBe('imagekit');
  });

  it('waits out Gemini 429s for the delay they ask, without counting them as attempts, and then succeeds', async () => {
    gemini.script({ kind: 'error', status: 429, retryDelayS: 0.3 }, { kind: 'error', status: 429, retryDelayS: 0.3 });
    const jobId = await submit(stack, { prompt: 'a busy market' });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'completed', attempts: 1 });
    expect(gemini.requests).toHaveLength(3);
    const [first, second, third] = gemini.requests.map((request) => request.at);
    // Each call waited at least the delay the 429 before it asked for.
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(300);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('fails at once, with its message, when Gemini rejects the request (400)', async () => {
    gemini.script({ kind: 'error', status: 400, message: 'Unsupported image size for this model.' });
    const jobId = await submit(stack, { prompt: 'anything' });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'failed', attempts: 1 });
    expect(job.error).toEqual({
      code: 'provider_rejected',
      retryable: false,
      message: expect.stringContaining('Unsupported image size for this model.'),
    });
    expect(gemini.requests).toHaveLength(1);
    expect(cloudinary.uploads).toHaveLength(0);
  });

  it('fails at once with provider_blocked when the prompt is blocked', async () => {
    gemini.script({ kind: 'blocked' });
    const jobId = await submit(stack, { prompt: 'something not allowed' });
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'provider_blocked', retryable: false } });
    expect(job.error?.message).toContain('PROHIBITED_CONTENT');
  });

  it('fails with provider_no_image when the model answers with text only', async () => {
    gemini.script({ kind: 'no-image' });
    const jobId = await submit(stack, { prompt: 'a poem' });
    expect(await stack.waitForJob(jobId, 'alice')).toMatchObject({
      status: 'failed',
      error: { code: 'provider_no_image' },
    });
  });
});
