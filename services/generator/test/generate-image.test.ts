import { GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import { LocalImageGenerator, type MediaStore, type StoredMedia, type UploadRequest } from '@mediaflow/providers';
import { PermanentJobError } from '@mediaflow/queue';
import { createTestDatabase, type TestDatabase } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratorDeps, generateImage } from '../src/generate-image.ts';

/** A store that keeps uploads in memory, so the test sees exactly what was stored. */
function memoryStore(): MediaStore & { uploads: UploadRequest[] } {
  return {
    name: 'memory',
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

describe('generateImage handler', () => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    jobs = new JobsRepository(database.db);
    await database.db.insertInto('users').values({ id: 'alice' }).execute();
  });
  afterAll(() => database.drop());

  const depsWith = (store: MediaStore): GeneratorDeps => ({
    jobs,
    assets: new GeneratedAssetsRepository(database.db),
    generator: new LocalImageGenerator(),
    store,
    tempAssetTtlMs: 60_000,
  });

  it('run twice for one job, generates and stores once and answers the same', async () => {
    const jobId = await jobs.create({ kind: 'generate-image', ownerId: 'alice', payload: {} });
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

  it('fails for good when the reference image it was promised is missing', async () => {
    const jobId = await jobs.create({ kind: 'generate-image', ownerId: 'alice', payload: {} });
    const error = await generateImage(
      { jobId, ownerId: 'alice', prompt: 'x', hasReference: true },
      depsWith(memoryStore()),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'invalid_input' });
  });
});
