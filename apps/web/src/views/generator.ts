import { ASPECT_RATIOS, type AspectRatio, describeError, type GeneratedImage, isUnauthorized } from '../api.ts';
import type { Context, View } from '../context.ts';
import { alertBox, field, h, replace } from '../dom.ts';
import { JobProgress } from '../progress.ts';

const RATIO_NAMES: Record<AspectRatio, string> = {
  '1:1': '1:1 square',
  '16:9': '16:9 landscape',
  '9:16': '9:16 portrait',
  '4:3': '4:3 landscape',
  '3:4': '3:4 portrait',
};

interface Request {
  prompt: string;
  referenceImage?: File;
  aspectRatio?: AspectRatio;
}

/** The AI generator: a prompt, an optional reference image and aspect ratio; the image, live. */
export class GeneratorView implements View {
  readonly element: HTMLElement;
  readonly #context: Context;
  readonly #prompt = h('textarea', { name: 'prompt', rows: 3, required: true, maxlength: 2000 });
  readonly #reference = h('input', { type: 'file', name: 'referenceImage', accept: 'image/jpeg,image/png,image/webp' });
  readonly #ratio = h(
    'select',
    { name: 'aspectRatio' },
    h('option', { value: '' }, 'Auto (from the reference image)'),
    ...ASPECT_RATIOS.map((ratio) => h('option', { value: ratio }, RATIO_NAMES[ratio])),
  );
  readonly #generate = h('button', { type: 'submit' }, 'Generate');
  readonly #alert = alertBox();
  readonly #progress = new JobProgress('image');
  readonly #result = h('section', { class: 'result', 'aria-label': 'Generated image' });
  #last: Request | undefined;
  #running = false;

  constructor(context: Context) {
    this.#context = context;
    const form = h(
      'form',
      { class: 'card', 'aria-labelledby': 'generator-title' },
      h('h2', { id: 'generator-title' }, 'AI generator'),
      field('Prompt', this.#prompt, 'Describe the image: subject, style, light, colours.'),
      field('Reference image', this.#reference, 'Optional. JPEG, PNG or WebP; its aspect ratio is used on Auto.'),
      field('Aspect ratio', this.#ratio, 'Auto takes the reference image’s shape, or square without one.'),
      h('div', { class: 'actions' }, this.#generate),
      this.#alert.element,
      this.#progress.element,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const prompt = this.#prompt.value.trim();
      if (!prompt) {
        this.#alert.show('Write a prompt first.');
        this.#prompt.focus();
        return;
      }
      const referenceImage = this.#reference.files?.[0];
      const aspectRatio = (this.#ratio.value || undefined) as AspectRatio | undefined;
      void this.#run({
        prompt,
        ...(referenceImage ? { referenceImage } : {}),
        ...(aspectRatio ? { aspectRatio } : {}),
      });
    });
    this.#result.hidden = true;
    this.element = h('div', { class: 'page' }, form, this.#result);
    this.#alert.show(null);
  }

  async #run(request: Request): Promise<void> {
    const { api, signal } = this.#context;
    if (this.#running) return;
    this.#running = true;
    this.#last = request;
    this.#alert.show(null);
    this.#generate.disabled = true;
    this.#progress.start();
    try {
      const accepted = await api.generateImage(request);
      const job = await api.watchJob(accepted, { signal, onUpdate: (update) => this.#progress.update(update) });
      this.#progress.update(job);
      if (job.kind === 'generate-image' && job.status === 'completed' && job.result) {
        const image: GeneratedImage = { ...job.result, prompt: request.prompt };
        this.#context.generated.add(image);
        this.#show(image);
      }
    } catch (error) {
      if (isUnauthorized(error)) return this.#context.signedOut(describeError(error, api.baseUrl));
      this.#progress.hide();
      this.#alert.show(describeError(error, api.baseUrl));
    } finally {
      this.#running = false;
      this.#generate.disabled = false;
    }
  }

  #show(image: GeneratedImage): void {
    const regenerate = h('button', { type: 'button' }, 'Regenerate');
    regenerate.addEventListener('click', () => {
      if (this.#last) void this.#run(this.#last);
    });
    const inPost = h('button', { type: 'button' }, 'Use in post');
    inPost.addEventListener('click', () => this.#context.useInPost(image));
    const inBlog = h('button', { type: 'button' }, 'Use in blog');
    inBlog.addEventListener('click', () => this.#context.useInBlog(image));
    replace(
      this.#result,
      h(
        'figure',
        {},
        h('img', { src: image.url, alt: image.prompt, width: image.width, height: image.height, class: 'generated' }),
        h(
          'figcaption',
          {},
          `${image.width} × ${image.height} (${image.aspectRatio}), by the ${image.provider} generator`,
        ),
      ),
      h('div', { class: 'actions' }, regenerate, inPost, inBlog),
    );
    this.#result.hidden = false;
  }
}
