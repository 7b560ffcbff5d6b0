import {
  describeError,
  type GeneratedImage,
  isUnauthorized,
  type MediaInput,
  type MediaToSend,
  RESUMABLE_FROM_BYTES,
} from '../api.ts';
import type { Context, View } from '../context.ts';
import { alertBox, field, h, replace } from '../dom.ts';
import { type GeneratedImages, shortName } from '../generated.ts';
import { JobProgress } from '../progress.ts';
import { blogElement } from './media.ts';

const IMAGE_TYPES = 'image/jpeg,image/png,image/webp,image/gif';

/** One of the blog's two images: a file from this device, or a generated image; a preview of it. */
class ImageChoice {
  readonly element: HTMLFieldSetElement;
  readonly #file = h('input', { type: 'file', accept: IMAGE_TYPES });
  readonly #select = h('select', {});
  readonly #preview = h('img', { class: 'thumb', alt: '' });
  readonly #generated: GeneratedImages;
  #objectUrl: string | undefined;

  constructor(name: string, generated: GeneratedImages) {
    this.#generated = generated;
    this.#file.name = name.toLowerCase();
    this.#file.addEventListener('change', () => {
      if (this.#file.files?.[0]) this.#select.value = '';
      this.#update();
    });
    this.#select.addEventListener('change', () => {
      if (this.#select.value) this.#file.value = '';
      this.#update();
    });
    generated.subscribe(() => this.#fill());
    this.#fill();
    this.#preview.hidden = true;
    this.element = h(
      'fieldset',
      { class: 'image-choice' },
      h('legend', {}, name),
      field(`${name} file`, this.#file, 'Optional. JPEG, PNG, WebP or GIF.'),
      field(`${name} from the generator`, this.#select),
      this.#preview,
    );
  }

  /** What to send: the file, the generated image, or nothing. */
  get value(): MediaInput | undefined {
    const file = this.#file.files?.[0];
    if (file) return file;
    return this.#select.value ? { assetId: this.#select.value } : undefined;
  }

  get empty(): boolean {
    return this.value === undefined;
  }

  choose(image: GeneratedImage): void {
    this.#fill();
    this.#select.value = image.assetId;
    this.#file.value = '';
    this.#update();
  }

  reset(): void {
    this.#file.value = '';
    this.#select.value = '';
    this.#update();
  }

  #fill(): void {
    const current = this.#select.value;
    replace(
      this.#select,
      h('option', { value: '' }, this.#generated.items.length === 0 ? 'None yet: use the generator' : 'None'),
      ...this.#generated.items.map((image) =>
        h('option', { value: image.assetId, selected: image.assetId === current }, shortName(image)),
      ),
    );
  }

  #update(): void {
    if (this.#objectUrl) URL.revokeObjectURL(this.#objectUrl);
    this.#objectUrl = undefined;
    const file = this.#file.files?.[0];
    let src: string | undefined;
    if (file) src = this.#objectUrl = URL.createObjectURL(file);
    else if (this.#select.value) src = this.#generated.find(this.#select.value)?.url;
    if (src) this.#preview.src = src;
    else this.#preview.removeAttribute('src');
    this.#preview.hidden = !src;
  }
}

/** The blog form: title, content, alt text, banner and featured image; then the steps and the blog. */
export class BlogView implements View {
  readonly element: HTMLElement;
  readonly #context: Context;
  readonly #title = h('input', { type: 'text', name: 'title', required: true, maxlength: 200 });
  readonly #content = h('textarea', { name: 'content', rows: 10 });
  readonly #alt = h('input', { type: 'text', name: 'imageAlt', maxlength: 1000 });
  readonly #banner: ImageChoice;
  readonly #featured: ImageChoice;
  readonly #publish = h('button', { type: 'submit', class: 'primary' }, 'Publish');
  readonly #alert = alertBox();
  readonly #progress = new JobProgress('blog');
  readonly #result = h('section', { class: 'result', 'aria-labelledby': 'published-blog-title' });

  constructor(context: Context) {
    this.#context = context;
    this.#banner = new ImageChoice('Banner', context.generated);
    this.#featured = new ImageChoice('Featured image', context.generated);
    const form = h(
      'form',
      { class: 'card', 'aria-labelledby': 'blog-title' },
      h('h2', { id: 'blog-title' }, 'New blog'),
      field('Title', this.#title),
      field('Content', this.#content, 'Markdown. Paragraphs are separated by an empty line.'),
      field('Image alt text', this.#alt, 'Describes the banner and featured image for people who cannot see them.'),
      h('div', { class: 'image-choices' }, this.#banner.element, this.#featured.element),
      h('div', { class: 'actions' }, this.#publish),
      this.#alert.element,
      this.#progress.element,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#submit();
    });
    this.#result.hidden = true;
    this.#alert.show(null);
    this.element = h('div', { class: 'page' }, form, this.#result);
  }

  /** From the generator's "Use in blog": the banner, or the featured image when a banner is chosen. */
  useGenerated(image: GeneratedImage): void {
    (this.#banner.empty ? this.#banner : this.#featured).choose(image);
  }

  async #submit(): Promise<void> {
    const { api, signal } = this.#context;
    const title = this.#title.value.trim();
    if (!title) {
      this.#alert.show('Give the blog a title.');
      this.#title.focus();
      return;
    }
    const imageAlt = this.#alt.value.trim();
    this.#alert.show(null);
    this.#publish.disabled = true;
    this.#progress.start();
    try {
      const banner = await this.#resumable(this.#banner.value, 'the banner');
      const featured = await this.#resumable(this.#featured.value, 'the featured image');
      this.#progress.start();
      const accepted = await api.submitBlog({
        title,
        content: this.#content.value,
        ...(imageAlt ? { imageAlt } : {}),
        ...(banner ? { banner } : {}),
        ...(featured ? { featured } : {}),
      });
      const job = await api.watchJob(accepted, { signal, onUpdate: (update) => this.#progress.update(update) });
      this.#progress.update(job);
      const blogId = job.kind === 'submit-blog' && job.status === 'completed' ? job.result?.blogId : undefined;
      if (!blogId) return;
      const blog = await api.getBlog(blogId);
      replace(this.#result, h('h2', { id: 'published-blog-title' }, 'Published blog'), blogElement(blog));
      this.#result.hidden = false;
      this.#title.value = '';
      this.#content.value = '';
      this.#alt.value = '';
      this.#banner.reset();
      this.#featured.reset();
      this.#result.scrollIntoView({ block: 'start' });
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#progress.hide();
      this.#alert.show(describeError(error, api.baseUrl));
    } finally {
      this.#publish.disabled = false;
    }
  }

  /** A file over RESUMABLE_FROM_BYTES goes first as a resumable upload, which the blog then names. */
  async #resumable(input: MediaInput | undefined, what: string): Promise<MediaToSend | undefined> {
    if (!(input instanceof File) || input.size <= RESUMABLE_FROM_BYTES) return input;
    const text = `Uploading ${what} (${input.name})…`;
    const uploadId = await this.#context.api.upload(input, {
      signal: this.#context.signal,
      onProgress: (sent, total) => this.#progress.uploading(text, sent, total),
    });
    return { uploadId };
  }
}
