import {
  type Brand,
  describeError,
  type GeneratedImage,
  isUnauthorized,
  type MediaInput,
  type MediaToSend,
  RESUMABLE_FROM_BYTES,
} from '../api.ts';
import type { Context, View } from '../context.ts';
import { alertBox, field, fieldWithButton, h, hidden, replace } from '../dom.ts';
import { shortName } from '../generated.ts';
import { JobProgress, UploadProgress } from '../progress.ts';
import { postElement, previewElement } from './media.ts';

const MAX_MEDIA = 10;
const MEDIA_TYPES = 'image/jpeg,image/png,image/webp,image/gif,video/mp4,video/quicktime,video/webm';

interface Item {
  input: MediaInput;
  name: string;
  /** An object URL for a file, the image's URL for a generated one. */
  preview: string | undefined;
  /** A file over RESUMABLE_FROM_BYTES: its upload's progress, and its id once it has gone. */
  upload?: { file: File; progress: UploadProgress; id?: string };
}

/** The post form: brand, caption, schedule, media in order; then the steps, and the published post. */
export class PostView implements View {
  readonly element: HTMLElement;
  readonly #context: Context;
  #brands: Brand[] = [];
  #items: Item[] = [];

  readonly #brand = h('select', { name: 'brandId', required: true });
  readonly #brandName = h('input', { type: 'text', name: 'brandName', maxlength: 200, autocomplete: 'organization' });
  readonly #createBrand = h('button', { type: 'button' }, 'Create brand');
  readonly #caption = h('textarea', { name: 'caption', rows: 4, maxlength: 5000 });
  readonly #schedule = h('input', { type: 'datetime-local', name: 'scheduledAt' });
  readonly #files = h('input', { type: 'file', name: 'media', multiple: true, accept: MEDIA_TYPES });
  readonly #generatedSelect = h('select', { name: 'generated' });
  readonly #addGenerated = h('button', { type: 'button' }, 'Add generated image');
  readonly #list = h('ol', { class: 'media-list', 'aria-label': 'Media, in the order they will appear' });
  readonly #count = h('p', { class: 'hint', 'aria-live': 'polite' });
  readonly #media: HTMLFieldSetElement;
  readonly #publish = h('button', { type: 'submit', class: 'primary' }, 'Publish');
  readonly #alert = alertBox();
  readonly #progress = new JobProgress('post');
  readonly #result = h('section', { class: 'result', 'aria-labelledby': 'published-post-title' });

  constructor(context: Context) {
    this.#context = context;
    this.#createBrand.addEventListener('click', () => void this.#newBrand());
    this.#brandName.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        void this.#newBrand();
      }
    });
    this.#files.addEventListener('change', () => {
      for (const file of Array.from(this.#files.files ?? [])) {
        const upload =
          file.size > RESUMABLE_FROM_BYTES
            ? { upload: { file, progress: new UploadProgress(file.name, file.size) } }
            : {};
        this.#add({ input: file, name: file.name, preview: URL.createObjectURL(file), ...upload });
      }
      this.#files.value = '';
    });
    this.#addGenerated.addEventListener('click', () => {
      const image = context.generated.find(this.#generatedSelect.value);
      if (image) this.addGenerated(image);
    });
    context.generated.subscribe(() => this.#fillGenerated());
    this.#fillGenerated();

    this.#media = h(
      'fieldset',
      { class: 'media' },
      h('legend', {}, 'Media'),
      field(
        'Add images or videos',
        this.#files,
        `JPEG, PNG, WebP or GIF images; MP4, MOV or WebM videos. Files over ${RESUMABLE_FROM_BYTES / (1024 * 1024)} MB go in resumable chunks: if the connection drops, the upload picks up where it stopped.`,
      ),
      fieldWithButton('Generated image', this.#generatedSelect, this.#addGenerated),
      this.#list,
      this.#count,
    );
    const form = h(
      'form',
      { class: 'card', 'aria-labelledby': 'post-title' },
      h('h2', { id: 'post-title' }, 'New post'),
      field('Brand', this.#brand),
      fieldWithButton(
        'New brand name',
        this.#brandName,
        this.#createBrand,
        'Or start a brand: you become its first member.',
      ),
      field('Caption', this.#caption),
      field('Schedule', this.#schedule, 'Optional: a date and time to publish at; empty publishes now.'),
      this.#media,
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
    this.#render();
  }

  shown(): void {
    void this.#loadBrands();
  }

  /** From the generator's "Use in post". */
  addGenerated(image: GeneratedImage): void {
    if (this.#items.some((item) => !(item.input instanceof File) && item.input.assetId === image.assetId)) return;
    this.#add({ input: { assetId: image.assetId }, name: `Generated: ${shortName(image)}`, preview: image.url });
  }

  #add(item: Item): void {
    if (this.#items.length >= MAX_MEDIA) {
      this.#alert.show(`A post has at most ${MAX_MEDIA} media items.`);
      return;
    }
    this.#items.push(item);
    this.#render();
  }

  #move(index: number, by: -1 | 1): void {
    const target = index + by;
    const [item] = this.#items.splice(index, 1);
    if (!item) return;
    this.#items.splice(target, 0, item);
    this.#render();
    // Keep the keyboard on the item that moved.
    const buttons = this.#list.children[target]?.querySelectorAll('button');
    const again = Array.from(buttons ?? []).find((button) => button.dataset.move === String(by) && !button.disabled);
    (again ?? this.#list.children[target]?.querySelector('button'))?.focus();
  }

  #remove(index: number): void {
    const [item] = this.#items.splice(index, 1);
    if (item?.input instanceof File && item.preview) URL.revokeObjectURL(item.preview);
    this.#render();
  }

  #render(): void {
    replace(
      this.#list,
      ...this.#items.map((item, index) => {
        const up = h(
          'button',
          { type: 'button', 'data-move': '-1', disabled: index === 0 },
          'Move up',
          hidden(` ${item.name}`),
        );
        up.addEventListener('click', () => this.#move(index, -1));
        const down = h(
          'button',
          { type: 'button', 'data-move': '1', disabled: index === this.#items.length - 1 },
          'Move down',
          hidden(` ${item.name}`),
        );
        down.addEventListener('click', () => this.#move(index, 1));
        const remove = h('button', { type: 'button' }, 'Remove', hidden(` ${item.name}`));
        remove.addEventListener('click', () => this.#remove(index));
        return h(
          'li',
          { class: 'media-item' },
          previewElement(item.input, item.preview, item.name),
          h('span', { class: 'media-name' }, item.name),
          h('span', { class: 'media-buttons' }, up, down, remove),
          item.upload?.progress.element,
        );
      }),
    );
    this.#count.textContent =
      this.#items.length === 0
        ? 'No media yet: a post needs 1 to 10 images or videos.'
        : `${this.#items.length} of at most ${MAX_MEDIA}, in this order.`;
  }

  #fillGenerated(): void {
    const images = this.#context.generated.items;
    replace(
      this.#generatedSelect,
      ...(images.length === 0
        ? [h('option', { value: '' }, 'None yet: use the generator')]
        : images.map((image) => h('option', { value: image.assetId }, shortName(image)))),
    );
    this.#generatedSelect.disabled = images.length === 0;
    this.#addGenerated.disabled = images.length === 0;
  }

  async #loadBrands(selected?: string): Promise<void> {
    const { api } = this.#context;
    try {
      this.#brands = await api.listBrands();
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#alert.show(describeError(error, api.baseUrl));
      return;
    }
    const current = selected ?? this.#brand.value;
    replace(
      this.#brand,
      ...(this.#brands.length === 0
        ? [h('option', { value: '' }, 'No brand yet: create one below')]
        : this.#brands.map((brand) => h('option', { value: brand.id, selected: brand.id === current }, brand.name))),
    );
  }

  async #newBrand(): Promise<void> {
    const { api } = this.#context;
    const name = this.#brandName.value.trim();
    if (!name) {
      this.#alert.show('Type the new brand’s name first.');
      this.#brandName.focus();
      return;
    }
    this.#createBrand.disabled = true;
    try {
      const brand = await api.createBrand(name);
      this.#brandName.value = '';
      this.#alert.show(null);
      await this.#loadBrands(brand.id);
      this.#brand.focus();
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#alert.show(describeError(error, api.baseUrl));
    } finally {
      this.#createBrand.disabled = false;
    }
  }

  async #submit(): Promise<void> {
    const { api, signal } = this.#context;
    const brandId = this.#brand.value;
    if (!brandId) return this.#invalid('Choose a brand, or create one.', this.#brandName);
    if (this.#items.length === 0) return this.#invalid('Add at least one image or video.', this.#files);
    const scheduledAt = this.#schedule.value ? new Date(this.#schedule.value).toISOString() : undefined;
    this.#alert.show(null);
    this.#publish.disabled = true;
    // The media stay as they are until the post is sent: its order is the one shown.
    this.#media.disabled = true;
    try {
      await this.#uploadLarge();
      this.#progress.start();
      const accepted = await api.submitPost({
        brandId,
        caption: this.#caption.value,
        ...(scheduledAt ? { scheduledAt } : {}),
        media: this.#items.map((item): MediaToSend => (item.upload?.id ? { uploadId: item.upload.id } : item.input)),
      });
      const job = await api.watchJob(accepted, { signal, onUpdate: (update) => this.#progress.update(update) });
      this.#progress.update(job);
      const postId = job.kind === 'submit-post' && job.status === 'completed' ? job.result?.postId : undefined;
      if (!postId) return;
      const post = await api.getPost(postId);
      replace(
        this.#result,
        h('h2', { id: 'published-post-title' }, 'Published post'),
        postElement(post, this.#brands.find((brand) => brand.id === post.brandId)?.name),
      );
      this.#result.hidden = false;
      for (const item of this.#items) if (item.input instanceof File && item.preview) URL.revokeObjectURL(item.preview);
      this.#items = [];
      this.#caption.value = '';
      this.#schedule.value = '';
      this.#render();
      this.#result.scrollIntoView({ block: 'start' });
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#progress.hide();
      this.#alert.show(describeError(error, api.baseUrl));
    } finally {
      this.#publish.disabled = false;
      this.#media.disabled = false;
    }
  }

  /**
   * Sends the large files not sent yet as resumable uploads, one after another (each counts against the
   * user's uploads in flight). An upload that went before a failed Publish is not sent again: the next
   * Publish names it. One removed from the list is never named, and the gateway deletes it after UPLOAD_TTL.
   */
  async #uploadLarge(): Promise<void> {
    const { api, signal } = this.#context;
    const pending = this.#items.flatMap(({ upload }) => (upload && !upload.id ? [upload] : []));
    for (const [index, upload] of pending.entries()) {
      const text = `Uploading ${upload.file.name} (${index + 1} of ${pending.length})…`;
      this.#progress.uploading(text, 0, upload.file.size);
      try {
        upload.id = await api.upload(upload.file, {
          signal,
          onProgress: (sent, total) => {
            upload.progress.update(sent, total);
            this.#progress.uploading(text, sent, total);
          },
        });
        upload.progress.done();
      } catch (error) {
        upload.progress.stopped();
        throw error;
      }
    }
  }

  #invalid(message: string, focus: HTMLElement): void {
    this.#alert.show(message);
    focus.focus();
  }
}
