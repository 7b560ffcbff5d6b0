import { createHash, randomUUID } from 'node:crypto';
import { GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import { GENERATED_FOLDER, type GenerateImagePayload, PermanentJobError, type StoredMedia } from '@mediaflow/domain';
import {
  type GenerateImageRequest,
  type ImageGenerator,
  LocalImageGenerator,
  type MediaStore,
  type UploadRequest,
} from '@mediaflow/providers';
import { createTestDatabase, imageSize, makeImage, type TestDatabase } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratorDeps, generateImage } from './generate-image.ts';
import { handlers } from './handlers.ts';

/** A store that keeps uploads in memory, so the test sees exactly what was stored. */
function memoryStore(): MediaStore & { uploads: UploadRequest[] } {
  return {
    name: 'memory',
    provider: 'local',
    uploads: [],
    async upload(request): Promise<StoredMedia> {
      this.uploads.push(request);
      const bytes = Buffer.isBuffer(request.source) ? request.source.length : 0;
      const providerId = `${request.folder}/${request.publicId}.jpg`;
      return {
        provider: 'local',
        providerId,
        url: `http://media.test/${providerId}`,
        bytes,
        resourceType: 'image',
        format: 'jpg',
      };
    },
    promote: () => Promise.reject(new Error('not used here')),
    delete: async () => {},
  };
}

/** The local generator, with every request it was given kept. */
function recordingGenerator(): ImageGenerator & { requests: GenerateImageRequest[] } {
  const local = new LocalImageGenerator();
  const requests: GenerateImageRequest[] = [];
  return {
    model: local.model,
    requests,
    generate: (request) => {
      requests.push(request);
      return local.generate(request);
    },
  };
}

describe('generateImage handler', () => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    jobs = new JobsRepository(database.db);
    await database.db.insertInto('users').values({ id: 'alice' }).execute();
  });
  afterAll(() => database.drop());

  const depsWith = (store: MediaStore, generator: ImageGenerator = new LocalImageGenerator()): GeneratorDeps => ({
    jobs,
    assets: new GeneratedAssetsRepository(database.db),
    generator,
    store,
    tempAssetTtlMs: 60_000,
  });

  /** A generation job's row, as the gateway writes it before queueing the job. */
  async function createJob(
    fields: Omit<GenerateImagePayload, 'jobId' | 'ownerId'>,
    reference?: Buffer,
  ): Promise<GenerateImagePayload> {
    const payload = { jobId: randomUUID(), ownerId: 'alice', ...fields };
    await jobs.create({
      id: payload.jobId,
      kind: 'generate-image',
      ownerId: 'alice',
      plan: { last: { name: 'generate-image', payload } },
      ...(reference
        ? {
            inputs: [
              {
                name: 'referenceImage',
                contentType: 'image/png',
                sha256: createHash('sha256').update(reference).digest('hex'),
                data: reference,
              },
            ],
          }
        : {}),
    });
    return payload;
  }

  it('is the handler of the generate-image jobs', () => {
    expect(handlers['generate-image']).toBe(generateImage);
  });

  it('run twice for one job, generates and stores once and answers the same', async () => {
    const jobId = randomUUID();
    await jobs.create({
      id: jobId,
      kind: 'generate-image',
      ownerId: 'alice',
      plan: {
        last: {
          name: 'generate-image',
          payload: { jobId, ownerId: 'alice', prompt: 'a fox', aspectRatio: '4:3', hasReference: false },
        },
      },
    });
    const store = memoryStore();
    const payload = { jobId, ownerId: 'alice', prompt: 'a fox', aspectRatio: '4:3' as const, hasReference: false };
    const first = await generateImage(payload, depsWith(store));
    const second = await generateImage(payload, depsWith(store));
    expect(second).toEqual(first);
    expect(first).toMatchObject({ aspectRatio: '4:3', width: 1152, height: 864, format: 'jpg' });
    expect(store.uploads).toHaveLength(1);
    const rows = await database.db.selectFrom('generated_assets').select('id').where('jobId', '=', jobId).execute();
    expect(rows).toHaveLength(1);
  });

  it('stores a JPEG at the ratio asked for in the generated folder, and records where it went', async () => {
    const payload = await createJob({ prompt: 'a heron', aspectRatio: '9:16', hasReference: false });
    const store = memoryStore();
    const generator = recordingGenerator();
    const before = Date.now();
    const result = await generateImage(payload, depsWith(store, generator));

    expect(generator.requests).toHaveLength(1);
    expect(generator.requests[0]).toMatchObject({ aspectRatio: '9:16' });
    expect(generator.requests[0]?.prompt).toContain('a heron');
    expect(generator.requests[0]?.reference).toBeUndefined();

    const upload = store.uploads[0];
    expect(upload).toMatchObject({ folder: GENERATED_FOLDER, format: 'jpg', resourceType: 'image', quality: 'best' });
    expect(await imageSize(upload?.source as Buffer)).toEqual({ format: 'jpeg', width: 756, height: 1344 });

    const asset = await database.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('jobId', '=', payload.jobId)
      .executeTakeFirstOrThrow();
    expect(result).toEqual({
      assetId: asset.id,
      url: `http://media.test/${GENERATED_FOLDER}/${upload?.publicId}.jpg`,
      provider: 'local',
      width: 756,
      height: 1344,
      aspectRatio: '9:16',
      format: 'jpg',
    });
    expect(asset).toMatchObject({
      ownerId: 'alice',
      prompt: 'a heron',
      enhancedPrompt: generator.requests[0]?.prompt,
      model: 'local-placeholder',
      referenceSha256: null,
      promotedAt: null,
      deletedAt: null,
    });
    // Kept for tempAssetTtlMs unless a submission promotes it.
    expect(asset.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(asset.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('takes the ratio nearest the reference image when none is asked for, and gives the model the reference', async () => {
    const reference = await makeImage(320, 180);
    const payload = await createJob({ prompt: 'the same, at night', hasReference: true }, reference);
    const generator = recordingGenerator();
    const result = await generateImage(payload, depsWith(memoryStore(), generator));
    expect(result).toMatchObject({ aspectRatio: '16:9', width: 1344, height: 756 });
    expect(generator.requests[0]?.reference).toEqual({ data: reference, mimeType: 'image/png' });
    const asset = await database.db
      .selectFrom('generated_assets')
      .select('referenceSha256')
      .where('jobId', '=', payload.jobId)
      .executeTakeFirstOrThrow();
    expect(asset.referenceSha256).toBe(createHash('sha256').update(reference).digest('hex'));
  });

  it('generates a square image with neither a ratio nor a reference', async () => {
    const payload = await createJob({ prompt: 'a fox', hasReference: false });
    expect(await generateImage(payload, depsWith(memoryStore()))).toMatchObject({
      aspectRatio: '1:1',
      width: 1024,
      height: 1024,
    });
  });

  it('fails for good when the reference image it was promised is missing', async () => {
    const jobId = randomUUID();
    await jobs.create({
      id: jobId,
      kind: 'generate-image',
      ownerId: 'alice',
      plan: { last: { name: 'generate-image', payload: { jobId, ownerId: 'alice', prompt: 'x', hasReference: true } } },
    });
    const error = await generateImage(
      { jobId, ownerId: 'alice', prompt: 'x', hasReference: true },
      depsWith(memoryStore()),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'invalid_input' });
  });

  it('fails for good, generating nothing, when the reference image cannot be read', async () => {
    const payload = await createJob({ prompt: 'x', hasReference: true }, Buffer.from('not an image at all'));
    const store = memoryStore();
    const generator = recordingGenerator();
    const error = await generateImage(payload, depsWith(store, generator)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'invalid_input' });
    expect(generator.requests).toEqual([]);
    expect(store.uploads).toEqual([]);
  });
});
