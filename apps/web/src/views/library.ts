import { describeError, isUnauthorized } from '../api.ts';
import type { Context, View } from '../context.ts';
import { alertBox, h, replace } from '../dom.ts';
import { blogElement, postElement } from './media.ts';

/** The user's posts (by brand) and blogs, newest first. */
export class LibraryView implements View {
  readonly element: HTMLElement;
  readonly #context: Context;
  readonly #posts = h('div', { class: 'list' });
  readonly #blogs = h('div', { class: 'list' });
  readonly #refresh = h('button', { type: 'button' }, 'Refresh');
  readonly #alert = alertBox();
  readonly #status = h('p', { class: 'hint', role: 'status' });

  constructor(context: Context) {
    this.#context = context;
    this.#refresh.addEventListener('click', () => void this.#load());
    this.#alert.show(null);
    this.element = h(
      'div',
      { class: 'page' },
      h('div', { class: 'actions' }, this.#refresh, this.#status),
      this.#alert.element,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'posts-title' },
        h('h2', { id: 'posts-title' }, 'Your posts'),
        this.#posts,
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'blogs-title' },
        h('h2', { id: 'blogs-title' }, 'Your blogs'),
        this.#blogs,
      ),
    );
  }

  shown(): void {
    void this.#load();
  }

  async #load(): Promise<void> {
    const { api } = this.#context;
    this.#status.textContent = 'Loading…';
    this.#refresh.disabled = true;
    try {
      const [brands, blogs] = await Promise.all([api.listBrands(), api.listBlogs()]);
      const posts = await Promise.all(brands.map(async (brand) => ({ brand, page: await api.listPosts(brand.id) })));
      const withPosts = posts.filter(({ page }) => page.items.length > 0);
      replace(
        this.#posts,
        ...(withPosts.length === 0
          ? [h('p', {}, 'No posts yet.')]
          : withPosts.map(({ brand, page }) =>
              h(
                'section',
                { class: 'brand-posts', 'aria-label': `${brand.name} posts` },
                h('h3', {}, brand.name),
                ...page.items.map((post) => postElement(post, undefined, 'h4')),
              ),
            )),
      );
      replace(
        this.#blogs,
        ...(blogs.items.length === 0 ? [h('p', {}, 'No blogs yet.')] : blogs.items.map((blog) => blogElement(blog))),
      );
      this.#alert.show(null);
      this.#status.textContent = '';
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#status.textContent = '';
      this.#alert.show(describeError(error, api.baseUrl));
    } finally {
      this.#refresh.disabled = false;
    }
  }
}
