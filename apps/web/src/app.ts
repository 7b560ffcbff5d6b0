import { Api, type GeneratedImage } from './api.ts';
import type { Context, Route, View } from './context.ts';
import { h, replace } from './dom.ts';
import { GeneratedImages } from './generated.ts';
import { apiUrl, clearSession, saveSession, storedToken, subjectOf } from './session.ts';
import { BlogView } from './views/blog.ts';
import { GeneratorView } from './views/generator.ts';
import { LibraryView } from './views/library.ts';
import { PostView } from './views/post.ts';
import { signInView } from './views/sign-in.ts';

const ROUTES: Array<{ route: Route; name: string; title: string }> = [
  { route: 'generate', name: 'Generate', title: 'AI generator' },
  { route: 'post', name: 'Post', title: 'New post' },
  { route: 'blog', name: 'Blog', title: 'New blog' },
  { route: 'library', name: 'Library', title: 'Your posts and blogs' },
];

/**
 * The shell: the sign-in page, or a signed-in session with its four pages (#/generate, #/post, #/blog,
 * #/library). Each page is made once per session and keeps its state while another is shown.
 */
export class App {
  readonly #root: HTMLElement;
  readonly #main = h('main', { id: 'main', tabindex: -1 });
  #session: { views: Record<Route, View>; post: PostView; blog: BlogView; abort: AbortController } | undefined;

  constructor(root: HTMLElement) {
    this.#root = root;
    window.addEventListener('hashchange', () => this.#show());
    const token = storedToken();
    if (token) this.#start(new Api(apiUrl(), token), token);
    else this.#signIn();
  }

  #signIn(message?: string): void {
    this.#session?.abort.abort();
    this.#session = undefined;
    document.title = 'Sign in · mediaflow';
    replace(this.#root, h('header', { class: 'top' }, h('h1', {}, 'mediaflow')), this.#main);
    replace(
      this.#main,
      signInView((api, token) => {
        saveSession(token, api.baseUrl);
        this.#start(api, token);
      }, message),
    );
  }

  #start(api: Api, token: string): void {
    const abort = new AbortController();
    const generated = new GeneratedImages();
    const context: Context = {
      api,
      generated,
      signal: abort.signal,
      navigate: (route) => {
        window.location.hash = `#/${route}`;
      },
      useInPost: (image: GeneratedImage) => {
        session.post.addGenerated(image);
        context.navigate('post');
      },
      useInBlog: (image: GeneratedImage) => {
        session.blog.useGenerated(image);
        context.navigate('blog');
      },
      signedOut: (message) => {
        clearSession();
        // The next person to sign in here may be someone else: their generated images are their own.
        generated.clear();
        this.#signIn(message);
      },
    };
    const post = new PostView(context);
    const blog = new BlogView(context);
    const session = {
      views: { generate: new GeneratorView(context), post, blog, library: new LibraryView(context) },
      post,
      blog,
      abort,
    };
    this.#session = session;

    const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
    signOut.addEventListener('click', () => {
      clearSession();
      generated.clear();
      this.#signIn();
    });
    const user = subjectOf(token);
    replace(
      this.#root,
      h(
        'header',
        { class: 'top' },
        h('h1', {}, 'mediaflow'),
        h(
          'nav',
          { 'aria-label': 'Pages' },
          h(
            'ul',
            {},
            ...ROUTES.map(({ route, name }) => h('li', {}, h('a', { href: `#/${route}`, 'data-route': route }, name))),
          ),
        ),
        h('p', { class: 'user' }, user ? `Signed in as ${user} ` : '', signOut),
      ),
      this.#main,
    );
    replace(this.#main);
    this.#show();
  }

  #show(): void {
    const session = this.#session;
    if (!session) return;
    const hash = window.location.hash;
    // Other fragments (the skip link's #main) are not pages: the page shown stays.
    if (hash !== '' && !hash.startsWith('#/') && this.#main.firstElementChild) return;
    const found = ROUTES.find(({ route }) => hash === `#/${route}`) ?? ROUTES[0];
    if (!found) return;
    const view = session.views[found.route];
    const previous = this.#main.firstElementChild;
    if (previous !== view.element) {
      replace(this.#main, view.element);
      view.shown?.();
      // A new page: keyboard and screen reader users start at its top, as after a page load.
      if (previous) this.#main.focus();
    }
    document.title = `${found.title} · mediaflow`;
    for (const link of this.#root.querySelectorAll<HTMLAnchorElement>('nav a')) {
      if (link.dataset.route === found.route) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }
}
