import type { GeneratedImage } from './api.ts';

const KEY = 'mediaflow.generated';

/**
 * The images generated in this session, newest first: the post and blog forms offer them. Kept in
 * sessionStorage, so a reload keeps them (the assets stay on the server until TEMP_ASSET_TTL).
 */
export class GeneratedImages {
  #items: GeneratedImage[];
  readonly #listeners = new Set<() => void>();

  constructor() {
    try {
      this.#items = JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as GeneratedImage[];
    } catch {
      this.#items = [];
    }
  }

  get items(): readonly GeneratedImage[] {
    return this.#items;
  }

  find(assetId: string): GeneratedImage | undefined {
    return this.#items.find((item) => item.assetId === assetId);
  }

  add(image: GeneratedImage): void {
    this.#items = [image, ...this.#items.filter((item) => item.assetId !== image.assetId)].slice(0, 50);
    sessionStorage.setItem(KEY, JSON.stringify(this.#items));
    for (const listener of this.#listeners) listener();
  }

  clear(): void {
    this.#items = [];
    sessionStorage.removeItem(KEY);
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` on every change. */
  subscribe(listener: () => void): void {
    this.#listeners.add(listener);
  }
}

/** A short name for a generated image in a list: its prompt, cut. */
export function shortName(image: GeneratedImage): string {
  const prompt = image.prompt.replace(/\s+/g, ' ').trim();
  return prompt.length > 48 ? `${prompt.slice(0, 47)}…` : prompt;
}
