import { GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { cleanUpExpiredAssets, reconcile } from '@mediaflow/maintenance';
import { buildMediaStore } from '@mediaflow/providers';
import { tempAssetsCleaned } from '@mediaflow/telemetry';
import { type FakeGemini, makeImage, signToken, startFakeGemini } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

describe('recovery: lost queues, expired assets, failed jobs', () => {
  let gemini: FakeGemini;
  let stack: Stack;
  const logger = createLogger({ service: 'test', level: 'silent' });

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
    stack = await startStack({ gemini });
  });
  afterAll(async () => {
    await stack.stop();
    await gemini.close();
  });

  async function count(
    table: 'posts' | 'media' | 'generated_assets',
    column: 'jobId' | 'postId',
    id: string,
  ): Promise<number> {
    const rows = await stack.database.db
      .selectFrom(table)
      .select('id')
      .where(column as never, '=', id as never)
      .execute();
    return rows.length;
  }

  it('queues again, and completes exactly once, a submission that Redis lost', async () => {
    const brand = (await (await stack.request('POST', '/api/brands', { json: { name: 'R' } })).json()) as {
      id: string;
    };
    await stack.pauseWorkers();
    const form = new FormData();
    form.append('caption', 'survives a flush');
    form.append('brandId', brand.id);
    form.append('media', new Blob([await makeImage(30, 30)]), 'a.png');
    const accepted = await stack.request('POST', '/api/posts', { form });
    expect(accepted.status).toBe(202);
    const { jobId } = (await accepted.json()) as { jobId: string };

    // Redis loses everything this test's queues held.
    const keys = await stack.redis.worker.keys(`${stack.redis.prefix}:*`);
    await stack.redis.worker.del(...keys);
    expect(await stack.queuedJobs('storage')).toBe(0);
    stack.resumeWorkers();

    const deps = { jobs: new JobsRepository(stack.database.db), queues: stack.queues, logger };
    expect(await reconcile(deps, 0)).toBe(1);
    const job = await stack.waitForJob(jobId, 'user-1');
    expect(job.status).toBe('completed');
    // A second round finds nothing to do, and nothing was written twice.
    expect(await reconcile(deps, 0)).toBe(0);
    expect(await count('posts', 'jobId', jobId)).toBe(1);
    expect(await count('media', 'postId', String((job.result as { postId: string }).postId))).toBe(1);
  });

  it('records a job BullMQ failed without its worker recording it (e.g. it stalled too often)', async () => {
    gemini.script({ kind: 'error', status: 400, message: 'Nope.' });
    const response = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'lost failure' } });
    const { jobId } = (await response.json()) as { jobId: string };
    expect((await stack.waitForJob(jobId, 'user-1')).status).toBe('failed');
    // As if the worker had died before writing the failure down.
    await stack.database.db
      .updateTable('jobs')
      .set({ status: 'active', error: null, finishedAt: null })
      .where('id', '=', jobId)
      .execute();
    const deps = { jobs: new JobsRepository(stack.database.db), queues: stack.queues, logger };
    expect(await reconcile(deps, 0)).toBe(1);
    const job = await stack.waitForJob(jobId, 'user-1');
    expect(job).toMatchObject({ status: 'failed', error: { code: 'internal', retryable: false } });
    expect(job.error?.message).toContain('Nope.');
  });

  it('deletes generated images nobody promoted once they expire, and nothing else', async () => {
    const generate = async () => {
      const response = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'temporary' } });
      const job = await stack.waitForJob(((await response.json()) as { jobId: string }).jobId, 'user-1');
      return job.result as { assetId: string; url: string };
    };
    const expired = await generate();
    const fresh = await generate();
    await stack.database.db
      .updateTable('generated_assets')
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where('id', '=', expired.assetId)
      .execute();

    const assets = new GeneratedAssetsRepository(stack.database.db);
    const cleaned = async () =>
      (await tempAssetsCleaned.get()).values.find((v) => v.labels.provider === 'local')?.value ?? 0;
    const cleanedBefore = await cleaned();
    expect(await cleanUpExpiredAssets({ assets, store: buildMediaStore(stack.config, logger) })).toBe(1);
    expect(await cleaned()).toBe(cleanedBefore + 1);
    expect((await fetch(expired.url)).status).toBe(404);
    expect((await fetch(fresh.url)).status).toBe(200);
    const row = await stack.database.db
      .selectFrom('generated_assets')
      .selectAll()
      .where('id', '=', expired.assetId)
      .executeTakeFirstOrThrow();
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect(await cleanUpExpiredAssets({ assets, store: buildMediaStore(stack.config, logger) })).toBe(0);

    // An expired asset can no longer be used in a submission.
    const brand = (await (await stack.request('POST', '/api/brands', { json: { name: 'E' } })).json()) as {
      id: string;
    };
    const form = new FormData();
    form.append('caption', 'late');
    form.append('brandId', brand.id);
    form.append('assetId', expired.assetId);
    expect((await stack.request('POST', '/api/posts', { form })).status).toBe(404);
  });

  it('lets an admin, and only an admin, list failed jobs and run them again', async () => {
    gemini.script({ kind: 'error', status: 400, message: 'Bad prompt.' });
    const response = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'fails once' } });
    const { jobId } = (await response.json()) as { jobId: string };
    expect((await stack.waitForJob(jobId, 'user-1')).status).toBe('failed');

    expect((await stack.request('GET', '/api/admin/jobs/failed?queue=generation')).status).toBe(403);
    const admin = await signToken('ops', { claims: { role: 'admin' } });
    const listed = await stack.request('GET', '/api/admin/jobs/failed?queue=generation', { token: admin });
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as { items: Array<{ jobId: string; reason: string }> };
    expect(items).toContainEqual(expect.objectContaining({ jobId, reason: expect.stringContaining('Bad prompt.') }));

    expect((await stack.request('POST', `/api/admin/jobs/${jobId}/retry`)).status).toBe(403);
    const retried = await stack.request('POST', `/api/admin/jobs/${jobId}/retry`, { token: admin });
    expect(retried.status).toBe(202);
    const job = await stack.waitForJob(jobId, 'user-1');
    expect(job).toMatchObject({ status: 'completed', attempts: 2 });
    expect(await count('generated_assets', 'jobId', jobId)).toBe(1);
    expect((await stack.request('POST', `/api/admin/jobs/${jobId}/retry`, { token: admin })).status).toBe(409);

    // Every failed job of a queue at once.
    gemini.script({ kind: 'error', status: 400 }, { kind: 'error', status: 400 });
    const failed = await Promise.all(
      ['one', 'two'].map(async (prompt) => {
        const accepted = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt } });
        const id = ((await accepted.json()) as { jobId: string }).jobId;
        expect((await stack.waitForJob(id, 'user-1')).status).toBe('failed');
        return id;
      }),
    );
    const all = await stack.request('POST', '/api/admin/jobs/retry?queue=generation', { token: admin });
    expect(all.status).toBe(202);
    // Every failed job of the queue, these two among them.
    expect(((await all.json()) as { retried: string[] }).retried).toEqual(expect.arrayContaining(failed));
    for (const id of failed) expect((await stack.waitForJob(id, 'user-1')).status).toBe('completed');
  });
});
