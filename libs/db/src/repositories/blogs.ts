import type { Db } from '../client.ts';
import type { BlogRow } from '../schema.ts';
import type { Cursor } from './cursor.ts';

export type NewBlog = Pick<BlogRow, 'jobId' | 'authorId' | 'title' | 'content' | 'imageAlt' | 'banner' | 'image'>;

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

  /** An author's blogs, newest first, `limit` at a time after `cursor`. */
  async listForAuthor(authorId: string, limit: number, cursor: Cursor | undefined): Promise<BlogRow[]> {
    let query = this.db.selectFrom('blogs').selectAll().where('authorId', '=', authorId);
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
