import type { PersistBlogPayload, PromoteMediaPayload } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import { describe, expect, it } from 'vitest';
import { BlogSubmission, type BlogSubmissionRequest } from './blog-submission.ts';
import { NO_IDEMPOTENCY_KEY } from './idempotency.ts';
import { MediaIntake } from './media-intake.ts';
import { Submissions } from './submissions.ts';
import { FakeAssets, FakeJobs, FakeQueues, FakeStore, FakeUploads, fakeEventsUrl, localFile } from './test-fakes.ts';

const ASSET = '33333333-3333-4333-8333-333333333333';

function setup() {
  const jobs = new FakeJobs();
  const queues = new FakeQueues();
  const store = new FakeStore();
  const assets = new FakeAssets();
  assets.add(ASSET, 'alice', { promoted: true });
  const uploads = new FakeUploads();
  const submission = new BlogSubmission({
    intake: new MediaIntake({ store, assets, log: silentLogger }),
    submissions: new Submissions({ jobs, queues, log: silentLogger, eventsUrl: fakeEventsUrl }),
    uploads,
    log: silentLogger,
  });
  const submit = (request: Partial<BlogSubmissionRequest>) =>
    submission.submit(
      {
        authorId: 'alice',
        title: 'Hello',
        content: '# Hello',
        banner: {},
        featured: {},
        context: { requestId: 'req-1' },
        ...request,
      },
      NO_IDEMPOTENCY_KEY,
    );
  return { jobs, queues, store, uploads, submit };
}

describe('BlogSubmission', () => {
  it('promotes an uploaded banner and a generated featured image into their folders, then writes the blog', async () => {
    const { jobs, store, submit } = setup();
    const banner = localFile('banner', 'top.png');
    const answer = await submit({ banner: { file: banner }, featured: { assetId: ASSET }, imageAlt: 'a view' });
    const job = jobs.only();
    expect(job.kind).toBe('submit-blog');
    const promotions = (job.plan.first ?? []).map((request) => request.payload as PromoteMediaPayload);
    expect(promotions).toMatchObject([
      { step: 0, folder: 'blog_banners', publicId: `banner-${answer.body.jobId}`, copy: false },
      // Already promoted for another submission: copied, not moved.
      { step: 1, folder: 'blog_featured', publicId: `featured-${answer.body.jobId}`, copy: true, assetId: ASSET },
    ]);
    const [bannerPromotion] = promotions;
    expect(bannerPromotion && store.sourceOf(bannerPromotion.source)).toBe(banner.path);
    expect(job.plan.last.payload).toEqual({
      jobId: answer.body.jobId,
      step: 2,
      authorId: 'alice',
      title: 'Hello',
      imageAlt: 'a view',
      bannerStep: 0,
      featuredStep: 1,
    } satisfies PersistBlogPayload);
    expect(job.plan.summary).toEqual({
      title: 'Hello',
      images: ['banner: banner top.png', `featured: generated asset ${ASSET}`],
    });
    expect(job.plan.record).toEqual({ content: '# Hello' });
  });

  it('keeps the content in the job row only: nothing it queues carries it', async () => {
    const { jobs, queues, submit } = setup();
    const content = `${'x'.repeat(20_000)} MARKER ${'y'.repeat(20_000)}`;
    await submit({ content, banner: { file: localFile('banner', 'top.png') } });
    expect(jobs.only().plan.record).toEqual({ content });
    const [queued] = queues.enqueued;
    const requests = JSON.stringify([queued?.first, queued?.last]);
    expect(requests).not.toContain('MARKER');
    expect(requests.length).toBeLessThan(2_000);
  });

  it('writes a blog without images in one step', async () => {
    const { jobs, submit } = setup();
    await submit({});
    const job = jobs.only();
    expect(job.plan.first).toEqual([]);
    expect(job.plan.last.payload).toMatchObject({ step: 0, imageAlt: null, bannerStep: null, featuredStep: null });
  });

  it('refuses an image sent both as a file and as an asset, uploading nothing', async () => {
    const { store, jobs, submit } = setup();
    await expect(submit({ featured: { file: localFile('featured', 'f.png'), assetId: ASSET } })).rejects.toMatchObject({
      statusCode: 400,
      message: 'send the featured image as a file, as featuredUploadId or as featuredAssetId: one of them',
    });
    expect(store.stored.size).toBe(0);
    expect(jobs.rows.size).toBe(0);
  });

  it('discards the uploads when the job cannot be queued', async () => {
    const { queues, store, jobs, submit } = setup();
    queues.failWith = new Error('Redis is down');
    await expect(
      submit({ banner: { file: localFile('banner', 'b.png') }, featured: { file: localFile('featured', 'f.png') } }),
    ).rejects.toMatchObject({ statusCode: 503 });
    expect(store.deleted).toHaveLength(2);
    expect(store.stored.size).toBe(0);
    expect(jobs.rows.size).toBe(0);
  });

  it('takes a finished upload as the banner, and lets its spool file go once accepted', async () => {
    const { jobs, store, uploads, submit } = setup();
    const top = localFile('upload', 'top.png');
    uploads.add('up1', 'alice', top);
    const answer = await submit({ banner: { uploadId: 'up1' } });
    expect(answer.status).toBe(202);
    const [promotion] = (jobs.only().plan.first ?? []).map((request) => request.payload as PromoteMediaPayload);
    expect(store.sourceOf(promotion?.source ?? ({} as never))).toBe(top.path);
    expect(promotion?.folder).toBe('blog_banners');
    expect(uploads.consumedIds).toEqual(['up1']);
  });

  it('refuses a video upload as a blog image (415) and two choices for one image (400), storing nothing', async () => {
    const { store, uploads, submit } = setup();
    uploads.add('clip', 'alice', localFile('upload', 'clip.mp4', 'mp4'));
    await expect(submit({ featured: { uploadId: 'clip' } })).rejects.toMatchObject({ statusCode: 415 });
    uploads.add('up1', 'alice', localFile('upload', 'top.png'));
    await expect(submit({ banner: { uploadId: 'up1', assetId: ASSET } })).rejects.toMatchObject({ statusCode: 400 });
    expect(store.stored.size).toBe(0);
    expect(uploads.taken.size).toBe(0);
  });
});
