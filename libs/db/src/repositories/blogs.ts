import type { Db } from '../client.ts';
import type { BlogRow } from '../schema.ts';
import type { Cursor } from './cursor.ts';

export type NewBlog = Pick<BlogRow, 'jobId' | 'authorId' | 'title' | 'content' | 'imageAlt' | 'banner' | 'image'>;

/** A blog in a list: the start of its content instead of all of it. */
export type BlogSummaryRow = Omit<BlogRow, 'content'> & { excerpt: string };

export class BlogsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Idempotent per submission job, like posts: a second run returns the first run's blog. */
  async createOnce(blog: NewBlog): Promise<BlogRow> {
    await this.db
      .insertInto('blogs')
      .values(blog)
      .onConflict((oc) => oc.column('jobId').doNothing())
      .execute();
    return this.db.selectFrom('blogs').selectAll().where('jobId', '=', blog.jobId).executeTakeFirstOrThrow();
  }

  async findById(id: string): Promise<BlogRow | undefined> {
    return this.db.selectFrom('blogs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * An author's blogs, newest first, `limit` at a time after `cursor`, each with the first `excerptLength`
   * characters of its content: PostgreSQL cuts it, so whole blogs never leave the database for a list.
   */
  async listForAuthor(
    authorId: string,
    limit: number,
    cursor: Cursor | undefined,
    excerptLength: number,
  ): Promise<BlogSummaryRow[]> {
    let query = this.db
      .selectFrom('blogs')
      .select(['id', 'title', 'banner', 'image', 'imageAlt', 'authorId', 'jobId', 'createdAt'])
      .select((eb) => eb.fn<string>('left', ['content', eb.val(excerptLength)]).as('excerpt'))
      .where('authorId', '=', authorId);
    if (cursor) {
      query = query.where((eb) =>
        eb.or([
          eb('createdAt', '<', cursor.createdAt),
          eb.and([eb('createdAt', '=', cursor.createdAt), eb('id', '<', cursor.id)]),
        ]),
      );
    }
    return query.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }
}
