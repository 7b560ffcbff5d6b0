import type { BrandsRepository, PostsRepository, PostWithMedia } from '@mediaflow/db';
import { HttpError } from './errors.ts';
import { type Page, type PageRequest, pageOf, readCursor } from './pagination.ts';

export interface PostsDeps {
  brands: Pick<BrandsRepository, 'isMember'>;
  posts: Pick<PostsRepository, 'findById' | 'listForBrand'>;
}

/** Reading posts: a post is visible to its brand's members; anyone else finds nothing. */
export class Posts {
  private readonly deps: PostsDeps;

  constructor(deps: PostsDeps) {
    this.deps = deps;
  }

  async find(userId: string, id: string): Promise<PostWithMedia> {
    const post = await this.deps.posts.findById(id);
    if (!post || !(await this.deps.brands.isMember(post.brandId, userId))) {
      throw new HttpError(404, 'not_found', `no post ${id}`);
    }
    return post;
  }

  /** A brand's posts, newest first. */
  async list(userId: string, brandId: string, page: PageRequest): Promise<Page<PostWithMedia>> {
    if (!(await this.deps.brands.isMember(brandId, userId)))
      throw new HttpError(404, 'not_found', `no brand ${brandId}`);
    return pageOf(await this.deps.posts.listForBrand(brandId, page.limit, readCursor(page.cursor)), page.limit);
  }
}
