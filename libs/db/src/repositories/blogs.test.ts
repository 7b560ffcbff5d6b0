import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { BlogsRepository, type NewBlog } from './blogs.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

describe('BlogsRepository', () => {
  let database: TestDatabase;
  let blogs: BlogsRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    blogs = new BlogsRepository(database.db);
  });
  afterAll(() => database.drop());

  async function newAuthor(): Promise<string> {
    const id = `author-${randomUUID()}`;
    await database.db.insertInto('users').values({ id }).execute();
    return id;
  }

  /** The submission job a blog is written by. */
  async function newJob(authorId: string): Promise<string> {
    const id = randomUUID();
    const plan = {
      last: {
        name: 'persist-blog',
        payload: {
          jobId: id,
          step: 0,
          authorId,
          title: 't',
          imageAlt: null,
          bannerStep: null,
          featuredStep: null,
        },
      },
      record: { content: 'c' },
    };
    await database.db
      .insertInto('jobs')
      .values({ id, kind: 'submit-blog', ownerId: authorId, payload: JSON.stringify(plan) })
      .execute();
    return id;
  }

  const blog = async (authorId: string, title: string, extra: Partial<NewBlog> = {}): Promise<NewBlog> => ({
    jobId: await newJob(authorId),
    authorId,
    title,
    content: `# ${title}\n\nBody.`,
    imageAlt: null,
    banner: null,
    image: null,
    ...extra,
  });

  /** Sets a blog's createdAt to the microsecond, as PostgreSQL's now() writes it. */
  const setCreatedAt = (id: string, at: string) =>
    sql`update blogs set "createdAt" = ${at}::timestamptz where id = ${id}`.execute(database.db);

  describe('createOnce', () => {
    it('writes the blog and answers its row', async () => {
      const author = await newAuthor();
      const input = await blog(author, 'Hello', {
        banner: 'http://media.test/blog_banners/b.jpg',
        image: 'http://media.test/blog_featured/f.jpg',
        imageAlt: 'a fox',
      });
      const created = await blogs.createOnce(input);
      expect(created).toEqual({ ...input, id: expect.any(String), createdAt: expect.any(Date) });
      expect(await blogs.findById(created.id)).toEqual(created);
    });

    it('answers the first run’s blog to a second run of the same job, writing nothing', async () => {
      const author = await newAuthor();
      const input = await blog(author, 'First');
      const first = await blogs.createOnce(input);
      const second = await blogs.createOnce({ ...input, title: 'Second', content: 'changed' });
      expect(second).toEqual(first);
      expect(second.title).toBe('First');
      const rows = await database.db.selectFrom('blogs').select('id').where('jobId', '=', input.jobId).execute();
      expect(rows).toEqual([{ id: first.id }]);
    });

    it('writes one blog when runs of a job race', async () => {
      const author = await newAuthor();
      const input = await blog(author, 'Race');
      const runs = await Promise.all(['a', 'b', 'c'].map((title) => blogs.createOnce({ ...input, title })));
      expect(new Set(runs.map((row) => row.id)).size).toBe(1);
      expect(
        await database.db.selectFrom('blogs').select('id').where('jobId', '=', input.jobId).execute(),
      ).toHaveLength(1);
    });
  });

  it('finds nothing for an unknown id', async () => {
    expect(await blogs.findById(randomUUID())).toBeUndefined();
  });

  describe('listForAuthor', () => {
    it('lists each blog with the first characters of its content as its excerpt, never the whole content', async () => {
      const author = await newAuthor();
      const long = await blogs.createOnce(
        await blog(author, 'long', { content: `🦊 ü${'x'.repeat(500)}`, banner: 'http://media.test/b.jpg' }),
      );
      await setCreatedAt(long.id, '2024-04-01T00:00:02Z');
      const short = await blogs.createOnce(await blog(author, 'short', { content: 'Tiny' }));
      await setCreatedAt(short.id, '2024-04-01T00:00:01Z');
      const { content: _, ...rest } = long;
      const [first, second] = await blogs.listForAuthor(author, 10, undefined, 5);
      // Characters, not bytes or UTF-16 units: the fox is one.
      expect(first).toEqual({ ...rest, createdAt: expect.any(Date), excerpt: '🦊 üxx' });
      expect(first).not.toHaveProperty('content');
      expect(second?.excerpt).toBe('Tiny');
    });

    it("lists an author's blogs newest first, a page at a time", async () => {
      const author = await newAuthor();
      const other = await newAuthor();
      const ids: Record<string, string> = {};
      for (const [title, at] of [
        ['old', '2024-01-01T00:00:01Z'],
        ['mid', '2024-01-01T00:00:02Z'],
        ['new', '2024-01-01T00:00:03Z'],
      ] as const) {
        const { id } = await blogs.createOnce(await blog(author, title));
        await setCreatedAt(id, at);
        ids[title] = id;
      }
      await blogs.createOnce(await blog(other, 'not mine'));

      expect((await blogs.listForAuthor(author, 10, undefined, 300)).map((row) => row.title)).toEqual([
        'new',
        'mid',
        'old',
      ]);
      const first = await blogs.listForAuthor(author, 2, undefined, 300);
      expect(first.map((row) => row.title)).toEqual(['new', 'mid']);
      const last = first.at(-1);
      if (!last) throw new Error('no page');
      const second = await blogs.listForAuthor(author, 2, decodeCursor(encodeCursor(last)), 300);
      expect(second.map((row) => row.id)).toEqual([ids.old]);
      expect(second[0]).toMatchObject({ authorId: author, title: 'old' });
      const end = second[0];
      if (!end) throw new Error('no page');
      expect(await blogs.listForAuthor(author, 2, { createdAt: end.createdAt, id: end.id }, 300)).toEqual([]);
      expect(await blogs.listForAuthor(await newAuthor(), 10, undefined, 300)).toEqual([]);
    });

    it('breaks ties between blogs written at the same moment by id, without skipping or repeating', async () => {
      const author = await newAuthor();
      const written: string[] = [];
      for (const title of ['b1', 'b2', 'b3', 'b4', 'b5']) {
        const { id } = await blogs.createOnce(await blog(author, title));
        await setCreatedAt(id, '2024-02-01T00:00:00Z');
        written.push(id);
      }
      const seen: string[] = [];
      let cursor: ReturnType<typeof decodeCursor>;
      for (let page = 0; page < 5; page++) {
        const rows = await blogs.listForAuthor(author, 2, cursor, 300);
        seen.push(...rows.map((row) => row.id));
        const last = rows.at(-1);
        if (rows.length < 2 || !last) break;
        cursor = decodeCursor(encodeCursor(last));
      }
      expect(seen).toEqual([...written].sort().reverse());
    });

    it('pages through blogs written within one millisecond without skipping any', async () => {
      // PostgreSQL keeps microseconds; a cursor made from what it answered must not lose blogs between them.
      const author = await newAuthor();
      for (const [title, at] of [
        ['newest', '2024-03-01T00:00:00.123456Z'],
        ['middle', '2024-03-01T00:00:00.123200Z'],
        ['oldest', '2024-03-01T00:00:00.122000Z'],
      ] as const) {
        const { id } = await blogs.createOnce(await blog(author, title));
        await setCreatedAt(id, at);
      }
      // Kept to the millisecond, the first two tie and are ordered by id; none is skipped or repeated.
      const [first] = await blogs.listForAuthor(author, 1, undefined, 300);
      if (!first) throw new Error('no page');
      const rest = await blogs.listForAuthor(author, 10, decodeCursor(encodeCursor(first)), 300);
      const titles = [first.title, ...rest.map((row) => row.title)];
      expect(titles.toSorted()).toEqual(['middle', 'newest', 'oldest']);
      expect(titles.at(-1)).toBe('oldest');
    });
  });
});
