import type { Api, GeneratedImage } from './api.ts';
import type { GeneratedImages } from './generated.ts';

export type Route = 'generate' | 'post' | 'blog' | 'library';

/** What every page of a signed-in session shares. */
export interface Context {
  api: Api;
  generated: GeneratedImages;
  /** Aborted on sign-out: every job being followed stops. */
  signal: AbortSignal;
  navigate(route: Route): void;
  /** The generator's "Use in post" and "Use in blog". */
  useInPost(image: GeneratedImage): void;
  useInBlog(image: GeneratedImage): void;
  /** The API refused the token: back to the sign-in page. */
  signedOut(message: string): void;
}

export interface View {
  readonly element: HTMLElement;
  /** Called each time the page is shown. */
  shown?(): void;
}
