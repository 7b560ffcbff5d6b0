import type { BlogRow, BlogsRepository } from '@mediaflow/db';
import { HttpError } from './errors.ts';
import { type Page, type PageRequest, pageOf, readCursor } from './pagination.ts';

/** Reading blogs: a blog is visible to its author only; anyone else finds nothing. */
export class Blogs {
  private readonly blogs: Pick<BlogsRepository, 'findById' | 'listForAuthor'>;

  constructor(deps: { blogs: Pick<BlogsRepository, 'findById' | 'listForAuthor'> }) {
    this.blogs = deps.blogs;
  }

  async find(userId: string, id: string): Promise<BlogRow> {
    const blog = await this.blogs.findById(id);
    if (!blog || blog.authorId !== userId) throw new HttpError(404, 'not_found', `no blog ${id}`);
    return blog;
  }

  /** The author's blogs, newest first. */
  async list(userId: string, page: PageRequest): Promise<Page<BlogRow>> {
    return pageOf(await this.blogs.listForAuthor(userId, page.limit, readCursor(page.cursor)), page.limit);
  }
}
