import type { StoreProvider } from '@mediaflow/domain';
import { type Db, inTransaction } from '../client.ts';
import type { MediaType } from '../schema.ts';
import type { Cursor } from './cursor.ts';

export interface NewPost {
  jobId: string;
  brandId: string;
  authorId: string;
  caption: string;
  scheduledAt: Date | null;
}

export interface NewMedia {
  url: string;
  type: MediaType;
  provider: StoreProvider;
  providerId: string;
  width: number | null;
  height: number | null;
  bytes: number;
  duration: number | null;
}

export interface PostWithMedia {
  id: string;
  brandId: string;
  authorId: string;
  caption: string;
  scheduledAt: Date | null;
  createdAt: Date;
  media: Array<NewMedia & { id: string; position: number }>;
}

export class PostsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /**
   * The post and its media rows in one transaction (the caller's, when the repository is bound to one),
   * answered from what the inserts return (no reads after it). Idempotent per submission job: a second run
   * (a retry, a worker that died after the commit) finds the first run's post and writes nothing.
   */
  async createOnce(post: NewPost, media: NewMedia[]): Promise<PostWithMedia> {
    const created = await inTransaction(this.db, async (trx) => {
      const inserted = await trx
        .insertInto('posts')
        .values(post)
        .onConflict((oc) => oc.column('jobId').doNothing())
        .returning(['id', 'brandId', 'authorId', 'caption', 'scheduledAt', 'createdAt'])
        .executeTakeFirst();
      if (!inserted) return undefined;
      const rows = await trx
        .insertInto('media')
        .values(
          media.map((item, position) => ({
            ...item,
            postId: inserted.id,
            brandId: post.brandId,
            userId: post.authorId,
            position,
          })),
        )
        .returning(['id', 'position', 'url', 'type', 'provider', 'providerId', 'width', 'height', 'bytes', 'duration'])
        .execute();
      return { ...inserted, media: rows.sort((a, b) => a.position - b.position) };
    });
    if (created) return created;
    const existing = await this.findByJob(post.jobId);
    if (!existing) throw new Error(`post of job ${post.jobId} vanished after it was written`);
    return existing;
  }

  async findByJob(jobId: string): Promise<PostWithMedia | undefined> {
    const post = await this.db.selectFrom('posts').select('id').where('jobId', '=', jobId).executeTakeFirst();
    return post ? this.findById(post.id) : undefined;
  }

  async findById(id: string): Promise<PostWithMedia | undefined> {
    const post = await this.db
      .selectFrom('posts')
      .select(['id', 'brandId', 'authorId', 'caption', 'scheduledAt', 'createdAt'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!post) return undefined;
    const [withMedia] = await this.attachMedia([post]);
    return withMedia;
  }

  /** A brand's posts, newest first, `limit` at a time after `cursor`. */
  async listForBrand(brandId: string, limit: number, cursor: Cursor | undefined): Promise<PostWithMedia[]> {
    let query = this.db
      .selectFrom('posts')
      .select(['id', 'brandId', 'authorId', 'caption', 'scheduledAt', 'createdAt'])
      .where('brandId', '=', brandId);
    if (cursor) {
      query = query.where((eb) =>
        eb.or([
          eb('createdAt', '<', cursor.createdAt),
          eb.and([eb('createdAt', '=', cursor.createdAt), eb('id', '<', cursor.id)]),
        ]),
      );
    }
    const posts = await query.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return this.attachMedia(posts);
  }

  private async attachMedia(posts: Array<Omit<PostWithMedia, 'media'>>): Promise<PostWithMedia[]> {
    if (posts.length === 0) return [];
    const media = await this.db
      .selectFrom('media')
      .select([
        'id',
        'postId',
        'position',
        'url',
        'type',
        'provider',
        'providerId',
        'width',
        'height',
        'bytes',
        'duration',
      ])
      .where(
        'postId',
        'in',
        posts.map((post) => post.id),
      )
      .orderBy('postId')
      .orderBy('position')
      .execute();
    return posts.map((post) => ({
      ...post,
      media: media.filter((item) => item.postId === post.id).map(({ postId: _, ...item }) => item),
    }));
  }
}
