import type { Blog, BlogSummary, MediaInput, Post, PostMedia } from '../api.ts';
import { h } from '../dom.ts';

/** The widths the layout shows media at: the whole screen on a phone, at most 40rem beside it. */
export const MEDIA_SIZES = '(max-width: 44rem) 100vw, 40rem';

/** An image or video of a published post, shown through srcset (the stores' resized copies). */
export function postMediaElement(item: PostMedia, alt: string): HTMLElement {
  if (item.type === 'video') {
    return h('video', {
      src: item.deliveryUrl,
      poster: item.posterUrl,
      controls: true,
      preload: 'metadata',
      width: item.width ?? undefined,
      height: item.height ?? undefined,
      'aria-label': alt,
    });
  }
  // The local disk store has no resized copies: its one size is the srcset's only candidate.
  const srcset = item.srcset ?? (item.width ? `${item.deliveryUrl} ${item.width}w` : undefined);
  return h('img', {
    src: item.deliveryUrl,
    srcset,
    sizes: srcset ? MEDIA_SIZES : undefined,
    alt,
    width: item.width ?? undefined,
    height: item.height ?? undefined,
    loading: 'lazy',
  });
}

/** A published post: its caption, schedule, and media in order. */
export function postElement(post: Post, brandName: string | undefined, headingLevel: 'h3' | 'h4' = 'h3'): HTMLElement {
  const summary = post.caption.trim() || 'Untitled post';
  const when = post.scheduledAt
    ? `Scheduled for ${formatDate(post.scheduledAt)}`
    : `Published ${formatDate(post.createdAt)}`;
  return h(
    'article',
    { class: 'post', 'data-post-id': post.id },
    h(headingLevel, {}, brandName ? `${brandName}: ${when}` : when),
    h('p', { class: 'caption' }, post.caption),
    h(
      'div',
      { class: 'media-grid' },
      ...post.media.map((item, index) =>
        postMediaElement(
          item,
          `${item.type === 'video' ? 'Video' : 'Image'} ${index + 1} of ${post.media.length}: ${summary}`,
        ),
      ),
    ),
  );
}

/**
 * A published blog: banner, title, featured image, and its Markdown content as paragraphs of text; from a
 * list, banner, title and the first paragraph of its excerpt.
 */
export function blogElement(blog: Blog | BlogSummary, headingLevel: 'h3' | 'h4' = 'h3'): HTMLElement {
  const alt = blog.imageAlt ?? '';
  const full = 'content' in blog;
  const paragraphs = (full ? blog.content : blog.excerpt)
    .split(/\n\s*\n/)
    .map((text) => text.trim())
    .filter(Boolean);
  return h(
    'article',
    { class: 'blog', 'data-blog-id': blog.id },
    blog.banner ? h('img', { class: 'banner', src: blog.banner, alt, loading: 'lazy' }) : null,
    h(headingLevel, {}, blog.title),
    h('p', { class: 'meta' }, `Published ${formatDate(blog.createdAt)}`),
    full && blog.image ? h('img', { class: 'featured', src: blog.image, alt, loading: 'lazy' }) : null,
    ...(full ? paragraphs : paragraphs.slice(0, 1)).map((text) => h('p', {}, text)),
  );
}

/** A preview of a media item before it is sent. */
export function previewElement(input: MediaInput, url: string | undefined, name: string): HTMLElement {
  if (input instanceof File && input.type.startsWith('video/')) {
    return h('span', { class: 'thumb video-thumb', 'aria-hidden': 'true' }, '▶');
  }
  return h('img', { class: 'thumb', src: url, alt: '', 'data-name': name });
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
