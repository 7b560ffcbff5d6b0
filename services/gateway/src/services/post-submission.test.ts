import type { PersistPostPayload, PromoteMediaPayload } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { NO_IDEMPOTENCY_KEY } from './idempotency.ts';
import { MediaIntake } from './media-intake.ts';
import { PostSubmission, type PostSubmissionRequest } from './post-submission.ts';
import { Submissions } from './submissions.ts';
import {
  FakeAssets,
  FakeBrands,
  FakeJobs,
  FakeQueues,
  FakeStore,
  FakeUploads,
  fakeEventsUrl,
  localFile,
} from './test-fakes.ts';

const BRAND = '11111111-1111-4111-8111-111111111111';
const ASSET = '22222222-2222-4222-8222-222222222222';
const context = { requestId: 'req-1' };

function setup() {
  const jobs = new FakeJobs();
  const queues = new FakeQueues();
  const store = new FakeStore();
  const assets = new FakeAssets();
  const brands = new FakeBrands();
  brands.join(BRAND, 'alice');
  assets.add(ASSET, 'alice');
  const uploads = new FakeUploads();
  const submission = new PostSubmission({
    brands,
    intake: new MediaIntake({ store, assets, log: silentLogger }),
    submissions: new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl }),
    uploads,
    log: silentLogger,
  });
  const submit = (request: Partial<PostSubmissionRequest>) =>
    submission.submit(
      { authorId: 'alice', brandId: BRAND, caption: 'hello', media: [], context, ...request },
      NO_IDEMPOTENCY_KEY,
    );
  return { jobs, queues, store, uploads, submit };
}

describe('PostSubmission', () => {
  it('uploads the files and chains their promotion and the post in the order they came', async () => {
    const { jobs, queues, store, submit } = setup();
    const first = localFile('media', 'first.png');
    const clip = localFile('media', 'clip.mp4', 'mp4');

    const answer = await submit({ media: [{ file: first }, { assetId: ASSET }, { file: clip }] });

    expect(answer).toEqual({
      status: 202,
      body: {
        jobId: expect.any(String),
        status: 'queued',
        statusUrl: `/api/jobs/${answer.body.jobId}`,
        eventsUrl: expect.stringMatching(`^/api/jobs/${answer.body.jobId}/events\\?token=alice\\.`),
      },
    });
    const job = jobs.only();
    expect(job).toMatchObject({ id: answer.body.jobId, kind: 'submit-post', ownerId: 'alice' });
    const promotions = (job.plan.first ?? []).map((request) => request.payload as PromoteMediaPayload);
    expect(promotions.map((payload) => payload.step)).toEqual([0, 1, 2]);
    expect(promotions.map((payload) => payload.folder)).toEqual(['auto', 'auto', 'auto']);
    expect(promotions.map((payload) => store.sourceOf(payload.source) ?? payload.assetId)).toEqual([
      first.path,
      ASSET,
      clip.path,
    ]);
    expect(promotions.map((payload) => payload.copy)).toEqual([false, false, false]);
    expect(promotions[0]?.source).toMatchObject({ width: 40, height: 30, resourceType: 'image' });
    expect(promotions[2]?.source).toMatchObject({ resourceType: 'video', format: 'mp4' });
    expect(job.plan.last).toEqual({
      name: 'persist-post',
      payload: {
        jobId: answer.body.jobId,
        step: 3,
        authorId: 'alice',
        brandId: BRAND,
        caption: 'hello',
        scheduledAt: null,
        mediaSteps: [0, 1, 2],
      } satisfies PersistPostPayload,
    });
    expect(job.steps?.map((step) => step.label)).toEqual([
      'media[0] media first.png',
      `media[1] generated asset ${ASSET}`,
      'media[2] media clip.mp4',
      'write post',
    ]);
    expect(job.plan.context).toEqual(context);
    expect(queues.enqueued).toEqual([job.plan]);
  });

  it('answers 404 to a non-member, and uploads nothing', async () => {
    const { jobs, store, submit } = setup();
    const refused = submit({ authorId: 'mallory', media: [{ file: localFile('media', 'a.png') }] });
    await expect(refused).rejects.toThrow(HttpError);
    await expect(refused).rejects.toMatchObject({ statusCode: 404, code: 'not_found', message: `no brand ${BRAND}` });
    expect(store.stored.size).toBe(0);
    expect(jobs.rows.size).toBe(0);
  });

  it('needs 1 to 10 media items', async () => {
    const { submit, store } = setup();
    await expect(submit({ media: [] })).rejects.toMatchObject({ statusCode: 400, code: 'invalid_input' });
    const eleven = Array.from({ length: 11 }, (_, i) => ({ file: localFile('media', `${i}.png`) }));
    await expect(submit({ media: eleven })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('got 11'),
    });
    expect(store.stored.size).toBe(0);
  });

  it("answers 404 to another user's asset before uploading anything", async () => {
    const { submit, store } = setup();
    const refused = submit({ media: [{ file: localFile('media', 'a.png') }, { assetId: 'not-hers' }] });
    await expect(refused).rejects.toMatchObject({ statusCode: 404, message: 'no generated asset not-hers' });
    expect(store.stored.size).toBe(0);
  });

  it('deletes the job and discards the uploads when the queue cannot take it, answering 503', async () => {
    const { jobs, queues, store, submit } = setup();
    queues.failWith = new Error('Redis is down');
    const refused = submit({ media: [{ file: localFile('media', 'a.png') }, { file: localFile('media', 'b.png') }] });
    await expect(refused).rejects.toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(jobs.rows.size).toBe(0);
    expect(store.stored.size).toBe(0);
    expect(store.deleted).toHaveLength(2);
  });

  it('removes what it uploaded when a later upload fails, and writes no job', async () => {
    const { jobs, store, submit } = setup();
    const second = localFile('media', 'b.png');
    store.failOn.add(second.path);
    const refused = submit({ media: [{ file: localFile('media', 'a.png') }, { file: second }] });
    await expect(refused).rejects.toMatchObject({
      statusCode: 503,
      message: 'media storage is unavailable; nothing was saved, try again shortly',
    });
    expect(store.stored.size).toBe(0);
    expect(store.deleted).toHaveLength(1);
    expect(jobs.rows.size).toBe(0);
  });

  it('takes finished uploads in the order they came among files and assets, and lets their spool files go', async () => {
    const { jobs, store, uploads, submit } = setup();
    const video = localFile('upload', 'big.mp4', 'mp4');
    uploads.add('up1', 'alice', video);
    const photo = localFile('media', 'a.png');

    const answer = await submit({ media: [{ uploadId: 'up1' }, { file: photo }, { assetId: ASSET }] });

    expect(answer.status).toBe(202);
    const promotions = (jobs.only().plan.first ?? []).map((request) => request.payload as PromoteMediaPayload);
    expect(promotions.map((payload) => store.sourceOf(payload.source) ?? payload.assetId)).toEqual([
      video.path,
      photo.path,
      ASSET,
    ]);
    expect(jobs.only().steps?.[0]?.label).toBe('media[0] upload big.mp4');
    expect(uploads.consumedIds).toEqual(['up1']);
    expect(uploads.released).toEqual([]);
  });

  it("answers 404 to another user's upload, and stores nothing", async () => {
    const { jobs, store, uploads, submit } = setup();
    uploads.add('theirs', 'bob', localFile('upload', 'b.mp4', 'mp4'));
    const refused = submit({ media: [{ file: localFile('media', 'a.png') }, { uploadId: 'theirs' }] });
    await expect(refused).rejects.toMatchObject({ statusCode: 404, message: 'no upload theirs' });
    expect(store.stored.size).toBe(0);
    expect(jobs.rows.size).toBe(0);
  });

  it('refuses an upload named twice in one post', async () => {
    const { uploads, submit } = setup();
    uploads.add('up1', 'alice', localFile('upload', 'big.mp4', 'mp4'));
    await expect(submit({ media: [{ uploadId: 'up1' }, { uploadId: 'up1' }] })).rejects.toMatchObject({
      statusCode: 400,
    });
    expect(uploads.taken.size).toBe(0);
  });

  it('gives its uploads back, usable again, when the submission is not accepted', async () => {
    const { jobs, queues, store, uploads, submit } = setup();
    uploads.add('up1', 'alice', localFile('upload', 'big.mp4', 'mp4'));
    queues.failWith = new Error('Redis is down');
    await expect(submit({ media: [{ uploadId: 'up1' }] })).rejects.toMatchObject({ statusCode: 503 });
    expect(uploads.released).toEqual(['up1']);
    expect(uploads.consumedIds).toEqual([]);
    expect(store.stored.size).toBe(0);
    expect(jobs.rows.size).toBe(0);

    queues.failWith = undefined;
    await expect(submit({ media: [{ uploadId: 'up1' }] })).resolves.toMatchObject({ status: 202 });
    await expect(submit({ media: [{ uploadId: 'up1' }] })).rejects.toMatchObject({ statusCode: 409 });
  });

  it('does not ask about the brand again when the caller checked it before reading the files', async () => {
    const { jobs, submit } = setup();
    // mallory is no member: only a check made here would refuse her.
    const answer = await submit({ authorId: 'mallory', brandChecked: true, media: [{ assetId: ASSET }] }).catch(
      (error: unknown) => error,
    );
    // The asset is alice's, so the request fails there, not at the brand: the brand was not asked again.
    expect(answer).toMatchObject({ statusCode: 404, message: `no generated asset ${ASSET}` });
    expect(jobs.rows.size).toBe(0);
  });
});
