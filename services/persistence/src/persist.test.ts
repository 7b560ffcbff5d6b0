import type { BlogRow, NewBlog, NewMedia, NewPost, PostWithMedia } from '@mediaflow/db';
import {
  type JobRef,
  PermanentJobError,
  type PersistBlogPayload,
  type PersistPostPayload,
  type StoredMedia,
} from '@mediaflow/domain';
import { describe, expect, it } from 'vitest';
import { handlers } from './handlers.ts';
import { type PersistenceDeps, type PersistenceRepositories, persistBlog, persistPost } from './persist.ts';

const image = (name: string): StoredMedia => ({
  provider: 'cloudinary',
  providerId: `auto/${name}`,
  url: `https://res.cloudinary.test/auto/${name}.jpg`,
  bytes: 2000,
  resourceType: 'image',
  format: 'jpg',
  width: 800,
  height: 600,
});

const video = (name: string): StoredMedia => ({
  provider: 'imagekit',
  providerId: `file-${name}`,
  url: `https://ik.test/auto/${name}.mp4`,
  bytes: 90_000,
  resourceType: 'video',
  format: 'mp4',
  path: `/auto/${name}.mp4`,
  duration: 12.5,
});

/** The repositories, in memory: the promoted steps and the blog contents (by job) given, and every write kept. */
function fakes(promoted: Map<number, StoredMedia>, contents: Record<string, string> = { 'job-2': 'Some content' }) {
  const posts: Array<{ post: NewPost; media: NewMedia[] }> = [];
  const blogs: NewBlog[] = [];
  const asked: string[] = [];
  const deps: PersistenceRepositories = {
    jobs: {
      promotedMedia: async (jobId) => {
        asked.push(jobId);
        return promoted;
      },
      blogContent: async (jobId) => contents[jobId],
    },
    posts: {
      createOnce: async (post, media): Promise<PostWithMedia> => {
        posts.push({ post, media });
        return {
          id: `post-of-${post.jobId}`,
          brandId: post.brandId,
          authorId: post.authorId,
          caption: post.caption,
          scheduledAt: post.scheduledAt,
          createdAt: new Date(),
          media: media.map((item, position) => ({ ...item, id: `media-${position}`, position })),
        };
      },
    },
    blogs: {
      createOnce: async (blog): Promise<BlogRow> => {
        blogs.push(blog);
        return { ...blog, id: `blog-of-${blog.jobId}`, createdAt: new Date() };
      },
    },
  };
  return { deps, posts, blogs, asked };
}

const postPayload = (overrides: Partial<PersistPostPayload> = {}): PersistPostPayload => ({
  jobId: 'job-1',
  step: 3,
  authorId: 'alice',
  brandId: 'brand-1',
  caption: 'hello',
  scheduledAt: null,
  mediaSteps: [0, 1, 2],
  ...overrides,
});

const blogPayload = (overrides: Partial<PersistBlogPayload> = {}): PersistBlogPayload => ({
  jobId: 'job-2',
  step: 2,
  authorId: 'bob',
  title: 'A title',
  imageAlt: 'a fox',
  bannerStep: 0,
  featuredStep: 1,
  ...overrides,
});

describe('persistence handlers', () => {
  it("write each record in its step's own commit, with the repositories that commit is bound to", async () => {
    const { deps: repositories, posts, blogs } = fakes(new Map([[0, image('a')]]));
    const refs: JobRef[] = [];
    const deps: PersistenceDeps = {
      inStepCommit: async (ref, write) => {
        refs.push(ref);
        const result = await write(repositories);
        return { start: 'started', result, completion: { jobCompleted: true, deliveries: [] } };
      },
    };
    const { 'persist-post': post, 'persist-blog': blog } = handlers;
    if (typeof post === 'function' || typeof blog === 'function') throw new Error('a handler that does not commit');
    const posted = await post.inOwnCommit(postPayload({ mediaSteps: [0] }), deps);
    expect(posted).toMatchObject({ start: 'started', result: { postId: 'post-of-job-1' } });
    const blogged = await blog.inOwnCommit(blogPayload({ bannerStep: 0, featuredStep: null }), deps);
    expect(blogged).toMatchObject({ start: 'started', result: { blogId: 'blog-of-job-2' } });
    expect(refs).toEqual([
      expect.objectContaining({ jobId: 'job-1', step: 3 }),
      expect.objectContaining({ jobId: 'job-2', step: 2 }),
    ]);
    expect(posts).toHaveLength(1);
    expect(blogs).toHaveLength(1);
  });
});

describe('persistPost', () => {
  it("writes the post with its media in the order of mediaSteps, from the steps' results", async () => {
    const promoted = new Map([
      [0, image('a')],
      [1, image('b')],
      [2, video('c')],
    ]);
    const { deps, posts, asked } = fakes(promoted);
    const result = await persistPost(
      postPayload({ mediaSteps: [2, 0, 1], scheduledAt: '2030-01-02T03:04:05.000Z' }),
      deps,
    );
    expect(asked).toEqual(['job-1']);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.post).toEqual({
      jobId: 'job-1',
      brandId: 'brand-1',
      authorId: 'alice',
      caption: 'hello',
      scheduledAt: new Date('2030-01-02T03:04:05.000Z'),
    });
    expect(posts[0]?.media).toEqual([
      {
        url: 'https://ik.test/auto/c.mp4',
        type: 'video',
        provider: 'imagekit',
        providerId: 'file-c',
        width: null,
        height: null,
        bytes: 90_000,
        duration: 12.5,
      },
      {
        url: 'https://res.cloudinary.test/auto/a.jpg',
        type: 'image',
        provider: 'cloudinary',
        providerId: 'auto/a',
        width: 800,
        height: 600,
        bytes: 2000,
        duration: null,
      },
      {
        url: 'https://res.cloudinary.test/auto/b.jpg',
        type: 'image',
        provider: 'cloudinary',
        providerId: 'auto/b',
        width: 800,
        height: 600,
        bytes: 2000,
        duration: null,
      },
    ]);
    // The answer names each media row by id, URL and type, and nothing more.
    expect(result).toEqual({
      postId: 'post-of-job-1',
      media: [
        { id: 'media-0', url: 'https://ik.test/auto/c.mp4', type: 'video' },
        { id: 'media-1', url: 'https://res.cloudinary.test/auto/a.jpg', type: 'image' },
        { id: 'media-2', url: 'https://res.cloudinary.test/auto/b.jpg', type: 'image' },
      ],
    });
  });

  it('publishes at once when no time is scheduled, and leaves out steps not named', async () => {
    const { deps, posts } = fakes(
      new Map([
        [0, image('a')],
        [1, image('b')],
      ]),
    );
    await persistPost(postPayload({ mediaSteps: [1] }), deps);
    expect(posts[0]?.post.scheduledAt).toBeNull();
    expect(posts[0]?.media.map(({ providerId }) => providerId)).toEqual(['auto/b']);
  });

  it('fails for good, writing nothing, when a media step has no promoted result', async () => {
    const { deps, posts } = fakes(new Map([[0, image('a')]]));
    const error = await persistPost(postPayload({ mediaSteps: [0, 1] }), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'internal', retryable: false });
    expect((error as Error).message).toContain('media step 1 of job job-1');
    expect(posts).toEqual([]);
  });
});

describe('persistBlog', () => {
  it("writes the blog with the content kept in its job's row, and the URLs of its image steps", async () => {
    // The steps' numbers, not their order, decide which image is which.
    const { deps, blogs } = fakes(
      new Map([
        [0, image('featured')],
        [1, image('banner')],
      ]),
    );
    const result = await persistBlog(blogPayload({ bannerStep: 1, featuredStep: 0 }), deps);
    expect(blogs).toEqual([
      {
        jobId: 'job-2',
        authorId: 'bob',
        title: 'A title',
        content: 'Some content',
        imageAlt: 'a fox',
        banner: 'https://res.cloudinary.test/auto/banner.jpg',
        image: 'https://res.cloudinary.test/auto/featured.jpg',
      },
    ]);
    expect(result).toEqual({
      blogId: 'blog-of-job-2',
      banner: 'https://res.cloudinary.test/auto/banner.jpg',
      image: 'https://res.cloudinary.test/auto/featured.jpg',
    });
  });

  it('writes null for a banner or featured image the blog does not have', async () => {
    const onlyFeatured = fakes(new Map([[0, image('featured')]]));
    expect(await persistBlog(blogPayload({ bannerStep: null, featuredStep: 0 }), onlyFeatured.deps)).toEqual({
      blogId: 'blog-of-job-2',
      banner: null,
      image: 'https://res.cloudinary.test/auto/featured.jpg',
    });
    expect(onlyFeatured.blogs[0]).toMatchObject({
      banner: null,
      image: 'https://res.cloudinary.test/auto/featured.jpg',
    });

    const onlyBanner = fakes(new Map([[0, image('banner')]]));
    expect(await persistBlog(blogPayload({ bannerStep: 0, featuredStep: null }), onlyBanner.deps)).toEqual({
      blogId: 'blog-of-job-2',
      banner: 'https://res.cloudinary.test/auto/banner.jpg',
      image: null,
    });

    const neither = fakes(new Map());
    expect(
      await persistBlog(blogPayload({ bannerStep: null, featuredStep: null, imageAlt: null }), neither.deps),
    ).toEqual({ blogId: 'blog-of-job-2', banner: null, image: null });
    expect(neither.blogs[0]).toMatchObject({ banner: null, image: null, imageAlt: null });
  });

  it('fails for good, writing nothing, when the job has no content in PostgreSQL', async () => {
    const { deps, blogs } = fakes(new Map([[0, image('banner')]]), {});
    const error = await persistBlog(blogPayload({ bannerStep: 0, featuredStep: null }), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'internal', retryable: false });
    expect((error as Error).message).toBe(
      "no blog content for job job-2: its row, or its plan's record.content, is missing",
    );
    expect(blogs).toEqual([]);
  });

  it('fails for good, writing nothing, when its banner step has no promoted result', async () => {
    const { deps, blogs } = fakes(new Map([[1, image('featured')]]));
    const error = await persistBlog(blogPayload({ bannerStep: 0, featuredStep: 1 }), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect(error).toMatchObject({ code: 'internal' });
    expect(blogs).toEqual([]);
  });
});
