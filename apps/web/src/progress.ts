import type { JobStatus, JobStep } from './api.ts';
import { h, replace } from './dom.ts';

const STATE_TEXT: Record<string, string> = {
  queued: 'waiting',
  active: 'working',
  completed: 'done',
  failed: 'failed',
};

const STEP_TEXT: Record<string, string> = {
  'persist-post': 'Save the post',
  'persist-blog': 'Save the blog',
};

const ROLES: Record<string, string> = { banner: 'the banner', featured: 'the featured image' };

/**
 * A step in words. Storage steps' labels say which item they move (`media[1] media clip.mp4`,
 * `media[0] upload long.mp4`, `banner generated asset <id>`, see the gateway's submission services):
 * "Store item 2: clip.mp4", "Store item 1: long.mp4", "Store the banner: generated image".
 */
export function stepName(step: Pick<JobStep, 'kind' | 'label'>): string {
  if (step.kind !== 'promote-media') return STEP_TEXT[step.kind] ?? step.label;
  const match = /^(?:media\[(\d+)\]|(banner|featured)) (.*)$/.exec(step.label);
  if (!match) return `Store ${step.label}`;
  const [, index, role, rest = ''] = match;
  const what = rest.startsWith('generated asset ')
    ? 'generated image'
    : rest.replace(/^(media|banner|featured|upload) /, '');
  return `Store ${index === undefined ? (ROLES[role ?? ''] ?? role) : `item ${Number(index) + 1}`}: ${what}`;
}

/**
 * A job's live progress: a progress bar, a sentence (announced politely to screen readers), and for
 * submissions each step of the chain with its state.
 */
export class JobProgress {
  readonly element: HTMLElement;
  readonly #bar = h('progress', { max: 1 });
  readonly #text = h('p', { class: 'progress-text' });
  readonly #steps = h('ol', { class: 'steps' });
  readonly #what: string;

  constructor(what: string) {
    this.#what = what;
    this.element = h('div', { class: 'progress', role: 'status', 'aria-live': 'polite' }, this.#bar, this.#text);
    this.element.append(this.#steps);
    this.element.hidden = true;
  }

  start(): void {
    this.element.hidden = false;
    this.#bar.removeAttribute('value');
    this.#text.textContent = `Sending the ${this.#what}…`;
    replace(this.#steps);
    this.element.dataset.status = 'sending';
  }

  /** A file going as a resumable upload before the submission: the bar shows how much of it has gone. */
  uploading(text: string, sent: number, total: number): void {
    this.element.hidden = false;
    this.element.dataset.status = 'uploading';
    this.#bar.max = total;
    this.#bar.value = sent;
    // Set only when it changes: each change is announced, and progress comes many times a second.
    if (this.#text.textContent !== text) this.#text.textContent = text;
    replace(this.#steps);
  }

  update(job: JobStatus): void {
    this.element.hidden = false;
    this.element.dataset.status = job.status;
    this.#text.textContent = sentence(job, this.#what);
    const steps = 'steps' in job ? (job.steps ?? []) : [];
    if (job.status === 'completed') this.#bar.value = 1;
    else if (steps.length > 0) {
      this.#bar.max = steps.length;
      this.#bar.value = steps.filter((step) => step.state === 'completed').length;
    } else this.#bar.removeAttribute('value');
    if (job.status === 'completed') this.#bar.max = 1;
    replace(this.#steps, ...steps.map(stepItem));
  }

  hide(): void {
    this.element.hidden = true;
  }
}

function sentence(job: JobStatus, what: string): string {
  switch (job.status) {
    case 'queued':
      return job.error ? `Waiting to try again (${job.error.message})` : `The ${what} is queued: waiting for a worker…`;
    case 'active':
      return job.attempts > 1 ? `Working on the ${what} (attempt ${job.attempts})…` : `Working on the ${what}…`;
    case 'completed':
      return `The ${what} is done.`;
    case 'failed':
      return `The ${what} failed: ${job.error?.message ?? 'unknown error'}`;
    default:
      return job.status;
  }
}

function stepItem(step: JobStep): HTMLLIElement {
  const name = stepName(step);
  return h(
    'li',
    { class: 'step', 'data-state': step.state },
    h('span', { class: 'step-name' }, name),
    ' ',
    h('span', { class: 'step-state' }, STATE_TEXT[step.state] ?? step.state),
    step.error && step.state !== 'completed' ? h('span', { class: 'step-error' }, ` (${step.error.message})`) : null,
  );
}

/**
 * A large file's resumable upload, in its media item: a bar and how much has gone. Not a live region (the
 * form's progress announces which file is going): its numbers change many times a second.
 */
export class UploadProgress {
  readonly element: HTMLElement;
  readonly #bar = h('progress', { max: 1, value: 0 });
  readonly #text = h('span', {});
  readonly #bytes: number;

  constructor(name: string, bytes: number) {
    this.#bytes = bytes;
    this.#bar.setAttribute('aria-label', `Upload of ${name}`);
    this.#text.textContent = `${megabytes(bytes)}: sent in resumable chunks when you publish`;
    this.element = h('div', { class: 'upload', 'data-state': 'waiting' }, this.#bar, this.#text);
  }

  update(sent: number, total: number): void {
    this.element.dataset.state = 'uploading';
    this.#bar.max = total;
    this.#bar.value = sent;
    this.#text.textContent = `Uploading: ${Math.floor((sent / total) * 100)}% of ${megabytes(total)}`;
  }

  done(): void {
    this.element.dataset.state = 'done';
    this.#bar.value = this.#bar.max;
    this.#text.textContent = `Uploaded (${megabytes(this.#bytes)})`;
  }

  /** It stopped; the next Publish sends it again from the start. */
  stopped(): void {
    this.element.dataset.state = 'stopped';
    this.#text.textContent = `The upload stopped at ${Math.floor((this.#bar.value / this.#bar.max) * 100)}%; publish again to retry`;
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
