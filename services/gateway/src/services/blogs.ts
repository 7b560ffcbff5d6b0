import type { BlogRow, BlogsRepository } from '@mediaflow/db';
import { HttpError } from './errors.ts';
import { type Page, type PageRequest, pageOf, readCursor } from './pagination.ts';

/** How much of a blog's content a list shows (its `excerpt`); the whole blog is one GET away. */
export const BLOG_EXCERPT_LENGTH = 300;

/** A blog as a list shows it: the first BLOG_EXCERPT_LENGTH characters of its content, not all of it. */
export type BlogSummaryRow = Omit<BlogRow, 'content'> & { excerpt: string };

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

  /** The author's blogs, newest first, each with an excerpt of its content. */
  async list(userId: string, page: PageRequest): Promise<Page<BlogSummaryRow>> {
    const rows = await this.blogs.listForAuthor(userId, page.limit, readCursor(page.cursor), BLOG_EXCERPT_LENGTH);
    return pageOf(rows, page.limit);
  }
}
