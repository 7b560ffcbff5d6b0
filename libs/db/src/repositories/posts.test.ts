import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type NewMedia, PostsRepository, type PostWithMedia } from './posts.ts';

const image = (name: string, bytes = 1234): NewMedia => ({
  url: `http://media.test/auto/${name}`,
  type: 'image',
  provider: 'local',
  providerId: `auto/${name}`,
  width: 800,
  height: 600,
  bytes,
  duration: null,
});

const video = (name: string): NewMedia => ({
  url: `https://res.cloudinary.test/auto/${name}`,
  type: 'video',
  provider: 'cloudinary',
  providerId: `auto/${name}`,
  width: 1920,
  height: 1080,
  // Above 2^31: a bigint column, read back as a number.
  bytes: 3_000_000_000,
  duration: 12.5,
});

describe('PostsRepository', () => {
  let database: TestDatabase;
  let posts: PostsRepository;
  const author = 'alice';
  beforeAll(async () => {
    database = await createTestDatabase();
    posts = new PostsRepository(database.db);
    await database.db
      .insertInto('users')
      .values([{ id: author }, { id: 'bob' }])
      .execute();
  });
  afterAll(() => database.drop());

  async function newBrand(): Promise<string> {
    const { id } = await database.db
      .insertInto('brands')
      .values({ name: 'Acme', createdBy: author })
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  }

  /** The submission job a post is written by. */
  async function newJob(): Promise<string> {
    const id = randomUUID();
    const plan = {
      last: {
        name: 'persist-post',
        payload: {
          jobId: id,
          step: 0,
          authorId: author,
          brandId: 'b',
          caption: 'c',
          scheduledAt: null,
          mediaSteps: [],
        },
      },
    };
    await database.db
      .insertInto('jobs')
      .values({ id, kind: 'submit-post', ownerId: author, payload: JSON.stringify(plan) })
      .execute();
    return id;
  }

  async function newPost(brandId: string, caption: string, media = [image(`${caption}.jpg`)]): Promise<PostWithMedia> {
    return posts.createOnce({ jobId: await newJob(), brandId, authorId: author, caption, scheduledAt: null }, media);
  }

  const mediaRows = (postId: string) =>
    database.db
      .selectFrom('media')
      .select(['postId', 'brandId', 'userId', 'position', 'providerId'])
      .where('postId', '=', postId)
      .orderBy('position')
      .execute();

  /** Sets posts' createdAt to the microsecond, as PostgreSQL's now() writes it. */
  const setCreatedAt = (id: string, at: string) =>
    sql`update posts set "createdAt" = ${at}::timestamptz where id = ${id}`.execute(database.db);

  describe('createOnce', () => {
    it('writes the post and its media in order, and answers them', async () => {
      const brandId = await newBrand();
      const jobId = await newJob();
      const scheduledAt = new Date('2030-01-02T03:04:05.000Z');
      const post = await posts.createOnce({ jobId, brandId, authorId: author, caption: 'Launch day', scheduledAt }, [
        image('first.jpg'),
        video('second.mp4'),
        image('third.png'),
      ]);
      expect(post).toMatchObject({ brandId, authorId: author, caption: 'Launch day', scheduledAt });
      expect(post.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(post.createdAt).toBeInstanceOf(Date);
      expect(post.media).toEqual([
        { id: expect.any(String), position: 0, ...image('first.jpg') },
        { id: expect.any(String), position: 1, ...video('second.mp4') },
        { id: expect.any(String), position: 2, ...image('third.png') },
      ]);
      expect(typeof post.media[1]?.bytes).toBe('number');
      expect(await mediaRows(post.id)).toEqual([
        { postId: post.id, brandId, userId: author, position: 0, providerId: 'auto/first.jpg' },
        { postId: post.id, brandId, userId: author, position: 1, providerId: 'auto/second.mp4' },
        { postId: post.id, brandId, userId: author, position: 2, providerId: 'auto/third.png' },
      ]);
    });

    it('writes nothing more on a second run of the same job, and answers the first run’s post', async () => {
      const brandId = await newBrand();
      const jobId = await newJob();
      const first = await posts.createOnce({ jobId, brandId, authorId: author, caption: 'first', scheduledAt: null }, [
        image('a.jpg'),
        image('b.jpg'),
      ]);
      const second = await posts.createOnce(
        { jobId, brandId, authorId: author, caption: 'second', scheduledAt: null },
        [image('c.jpg')],
      );
      expect(second).toEqual(first);
      expect(second.caption).toBe('first');
      const rows = await database.db.selectFrom('posts').select('id').where('jobId', '=', jobId).execute();
      expect(rows).toEqual([{ id: first.id }]);
      expect((await mediaRows(first.id)).map((row) => row.providerId)).toEqual(['auto/a.jpg', 'auto/b.jpg']);
    });

    it('writes one post when two runs of a job race', async () => {
      const brandId = await newBrand();
      const jobId = await newJob();
      const runs = await Promise.all(
        ['one', 'two', 'three'].map((caption) =>
          posts.createOnce({ jobId, brandId, authorId: author, caption, scheduledAt: null }, [image(`${caption}.jpg`)]),
        ),
      );
      const ids = new Set(runs.map((post) => post.id));
      expect(ids.size).toBe(1);
      const [id] = [...ids];
      expect(await mediaRows(id ?? '')).toHaveLength(1);
      expect(await database.db.selectFrom('posts').select('id').where('jobId', '=', jobId).execute()).toHaveLength(1);
    });

    it('writes no post when its media cannot be written', async () => {
      const brandId = await newBrand();
      const jobId = await newJob();
      const bad = { ...image('bad.jpg'), type: 'audio' } as unknown as NewMedia;
      await expect(
        posts.createOnce({ jobId, brandId, authorId: author, caption: 'c', scheduledAt: null }, [image('ok.jpg'), bad]),
      ).rejects.toThrow(/check constraint/);
      expect(await posts.findByJob(jobId)).toBeUndefined();
    });
  });

  describe('findById and findByJob', () => {
    it('find the post with its media, and nothing for an unknown id', async () => {
      const brandId = await newBrand();
      const jobId = await newJob();
      const created = await posts.createOnce(
        { jobId, brandId, authorId: author, caption: 'found', scheduledAt: null },
        [image('x.jpg'), image('y.jpg')],
      );
      await newPost(brandId, 'another');
      expect(await posts.findById(created.id)).toEqual(created);
      expect(await posts.findByJob(jobId)).toEqual(created);
      expect(await posts.findById(randomUUID())).toBeUndefined();
      expect(await posts.findByJob(randomUUID())).toBeUndefined();
    });
  });

  describe('listForBrand', () => {
    it("lists a brand's posts newest first with their own media, a page at a time", async () => {
      const brandId = await newBrand();
      const otherBrand = await newBrand();
      const a = await newPost(brandId, 'a', [image('a1.jpg'), image('a2.jpg')]);
      const b = await newPost(brandId, 'b');
      const c = await newPost(brandId, 'c', [video('c1.mp4')]);
      await newPost(otherBrand, 'elsewhere');
      await setCreatedAt(a.id, '2024-01-01T00:00:01Z');
      await setCreatedAt(b.id, '2024-01-01T00:00:02Z');
      await setCreatedAt(c.id, '2024-01-01T00:00:03Z');

      const all = await posts.listForBrand(brandId, 10, undefined);
      expect(all.map((post) => post.caption)).toEqual(['c', 'b', 'a']);
      expect(all[2]?.media.map((item) => [item.position, item.providerId])).toEqual([
        [0, 'auto/a1.jpg'],
        [1, 'auto/a2.jpg'],
      ]);
      expect(all[0]?.media.map((item) => item.providerId)).toEqual(['auto/c1.mp4']);

      const first = await posts.listForBrand(brandId, 2, undefined);
      expect(first.map((post) => post.caption)).toEqual(['c', 'b']);
      const last = first.at(-1);
      if (!last) throw new Error('no page');
      const second = await posts.listForBrand(brandId, 2, decodeCursor(encodeCursor(last)));
      expect(second.map((post) => post.caption)).toEqual(['a']);
      expect(second[0]?.media).toHaveLength(2);
      const oldest = second[0];
      if (!oldest) throw new Error('no page');
      expect(await posts.listForBrand(brandId, 2, { createdAt: oldest.createdAt, id: oldest.id })).toEqual([]);
      expect(await posts.listForBrand(await newBrand(), 10, undefined)).toEqual([]);
    });

    it('breaks ties between posts written at the same moment by id, without skipping or repeating', async () => {
      const brandId = await newBrand();
      const written = [];
      for (const caption of ['p1', 'p2', 'p3', 'p4', 'p5']) {
        const post = await newPost(brandId, caption);
        await setCreatedAt(post.id, '2024-02-01T00:00:00Z');
        written.push(post.id);
      }
      const seen: string[] = [];
      let cursor: ReturnType<typeof decodeCursor>;
      for (let page = 0; page < 5; page++) {
        const rows = await posts.listForBrand(brandId, 2, cursor);
        seen.push(...rows.map((post) => post.id));
        const last = rows.at(-1);
        if (rows.length < 2 || !last) break;
        cursor = decodeCursor(encodeCursor(last));
      }
      expect(seen).toEqual([...written].sort().reverse());
    });

    it('pages through posts written within one millisecond without skipping any', async () => {
      // PostgreSQL keeps microseconds; a cursor made from what it answered must not lose posts between them.
      const brandId = await newBrand();
      const newest = await newPost(brandId, 'newest');
      const middle = await newPost(brandId, 'middle');
      const oldest = await newPost(brandId, 'oldest');
      await setCreatedAt(newest.id, '2024-03-01T00:00:00.123456Z');
      await setCreatedAt(middle.id, '2024-03-01T00:00:00.123200Z');
      await setCreatedAt(oldest.id, '2024-03-01T00:00:00.122000Z');

      // Kept to the millisecond, the first two tie and are ordered by id; none is skipped or repeated.
      const [first] = await posts.listForBrand(brandId, 1, undefined);
      if (!first) throw new Error('no page');
      const rest = await posts.listForBrand(brandId, 10, decodeCursor(encodeCursor(first)));
      const captions = [first.caption, ...rest.map((post) => post.caption)];
      expect(captions.toSorted()).toEqual(['middle', 'newest', 'oldest']);
      expect(captions.at(-1)).toBe('oldest');
    });
  });
});
