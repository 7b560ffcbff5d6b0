import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeMp4, signToken, sparePort } from '@mediaflow/testing';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** Debian's chromium; .ci/run installs it when it is missing. */
const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB = path.join(ROOT, 'apps', 'web');
/**
 * The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=true), so that a test run
 * leaves the repository as it was; otherwise they go to a temporary folder, for a person to look at.
 */
// biome-ignore lint/style/noProcessEnv: a switch for whoever runs the test by hand, not configuration
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === 'true';
const SCREENSHOTS = UPDATE_SCREENSHOTS ? path.join(ROOT, 'docs', 'screenshots') : '/tmp/screens/web-app';
const PHONE = { width: 390, height: 844 };
const MB = 1024 * 1024;
const DESKTOP = { width: 1280, height: 900 };

interface Violation {
  directive: string;
  blocked: string;
}

/** A picture worth looking at, made on the spot (tests ship no binary fixtures). */
function scene(width: number, height: number, sky: [string, string], sea: string): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
    <stop offset="0" stop-color="${sky[0]}"/><stop offset="1" stop-color="${sky[1]}"/></linearGradient></defs>
  <rect width="100%" height="100%" fill="url(#sky)"/>
  <circle cx="${width * 0.7}" cy="${height * 0.45}" r="${height * 0.12}" fill="#ffd27a"/>
  <rect y="${height * 0.6}" width="100%" height="${height * 0.4}" fill="${sea}"/>
  <polygon points="0,${height * 0.62} ${width * 0.3},${height * 0.3} ${width * 0.45},${height * 0.62}" fill="#2d3a3a"/>
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** apps/web, built as npm start builds it (scripts/src/start.ts), into `outDir`. */
async function buildWebApp(outDir: string): Promise<void> {
  await build({
    root: WEB,
    configFile: path.join(WEB, 'vite.config.ts'),
    build: { outDir, emptyOutDir: true },
    logLevel: 'warn',
  });
}

/** A loopback origin other than the gateway's: it serves `page` at / and the built web app at /app/. */
async function otherOrigin(port: number, page: () => string, webDir: string): Promise<Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page());
      return;
    }
    const relative = url.pathname === '/app/' ? 'index.html' : url.pathname.replace(/^\/app\//, '');
    const file = path.join(webDir, path.normalize(relative));
    if (!url.pathname.startsWith('/app/') || !file.startsWith(webDir) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    response.end(await readFile(file));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/**
 * The web app at /app/ (apps/web, built with Vite in the setup) in Debian's chromium, on the whole stack
 * with the local generator and the local disk store: sign in, generate with a reference image, use it in
 * a post with an uploaded image and a short video, publish, see the post; a blog with a generated banner;
 * the lists; a post with a large video and a blog with a large image, sent as resumable uploads first. At a phone's width, with a screenshot of each page at a phone's and a desktop's width, and
 * nothing refused by the page's CSP. Then CORS: a page on another loopback origin calls the gateway.
 */
describe.skipIf(!existsSync(CHROMIUM))('the web app in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let webDir: string;
  let allowed: Server;
  let refused: Server;
  let allowedOrigin: string;
  let refusedOrigin: string;
  let context: BrowserContext;
  let page: Page;
  const violations: Violation[] = [];
  const errors: string[] = [];
  /** URLs the page asked for, to see how it followed its jobs. */
  const requests: string[] = [];
  /** Each state the generator's progress showed, in order. */
  const statuses: string[] = [];

  beforeAll(async () => {
    webDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-web-'));
    const [allowedPort, refusedPort] = [await sparePort(), await sparePort()];
    allowedOrigin = `http://127.0.0.1:${allowedPort}`;
    refusedOrigin = `http://127.0.0.1:${refusedPort}`;
    await Promise.all([mkdir(SCREENSHOTS, { recursive: true }), buildWebApp(webDir)]);
    [stack, browser] = await Promise.all([
      startStack({ env: { SERVE_WEB_APP: 'true', WEB_APP_DIR: webDir, CORS_ORIGINS: allowedOrigin } }),
      chromium.launch({ executablePath: CHROMIUM }),
    ]);
    const token = await signToken('carol');
    const html = () => crossOriginPage(stack.baseUrl, token);
    [allowed, refused] = await Promise.all([
      otherOrigin(allowedPort, html, webDir),
      otherOrigin(refusedPort, html, webDir),
    ]);

    context = await browser.newContext({ viewport: PHONE });
    page = await context.newPage();
    await page.exposeFunction('reportViolation', (violation: Violation) => violations.push(violation));
    await page.exposeFunction('reportStatus', (status: string) => {
      if (statuses.at(-1) !== status) statuses.push(status);
    });
    // Page scripts, as text: this project compiles without the DOM's types.
    await page.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (event) =>
        window.reportViolation({ directive: event.effectiveDirective, blocked: event.blockedURI }));
      new MutationObserver((changes) => {
        for (const change of changes)
          if (change.target.closest('[aria-labelledby="generator-title"]')) window.reportStatus(change.target.dataset.status);
      }).observe(document, { subtree: true, attributeFilter: ['data-status'] });`,
    });
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.stack ?? error.message));
    page.on('request', (request) => requests.push(request.url()));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(
      [allowed, refused].map((server) => server && new Promise((resolve) => server.close(() => resolve(null)))),
    );
    await stack?.stop();
    if (webDir) await rm(webDir, { recursive: true, force: true });
  });

  /** The page as it is now, at a phone's width and a desktop's; it fits a phone's width. */
  async function screenshot(name: string): Promise<void> {
    // Page scripts as text: this project compiles without the DOM's types.
    await page.evaluate('document.fonts.ready');
    const width = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(width, `${name} is wider than a phone`).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
  }

  /** An image has loaded: the CSP let it in and it decoded. */
  async function loaded(image: Locator): Promise<void> {
    await expect
      .poll(() => image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
  }

  it('serves the app at /app/ under its own CSP, and /app redirects there', async () => {
    const redirect = await fetch(`${stack.baseUrl}/app`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/app/');
    const index = await fetch(`${stack.baseUrl}/app/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("img-src 'self' https: data: blob:");
    expect(csp).toContain(`connect-src 'self' ${stack.baseUrl}`);
    expect(csp).toContain("frame-ancestors 'none'");
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(await index.text())?.[1];
    const asset = await fetch(`${stack.baseUrl}${script}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // The API keeps its own policy.
    const api = await stack.request('GET', '/api/brands');
    expect(api.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('signs in with a pasted access token, and refuses a bad one', async () => {
    await page.goto(`${stack.baseUrl}/app/`);
    const token = await signToken('alice');
    await page.getByLabel('Access token').fill(token);
    await screenshot('sign-in');

    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The API refused the access token');
    // The browser reports the refusal (401) on the console; the page's own errors are what matter below.
    errors.splice(0);

    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as alice').waitFor();
    expect(await page.evaluate<string | null>("sessionStorage.getItem('mediaflow.token')")).toMatch(/^ey/);
    // A reload keeps the session (sessionStorage), on the generator.
    await page.reload();
    await page.getByRole('heading', { name: 'AI generator' }).waitFor();
  });

  it('generates an image from a prompt and a reference image, with live progress', async () => {
    const prompt = 'A lighthouse on a cliff at dusk, watercolour';
    await page.getByLabel('Prompt').fill(prompt);
    await page.getByLabel('Reference image').setInputFiles({
      name: 'cliff.png',
      mimeType: 'image/png',
      buffer: await scene(800, 600, ['#f6a26b', '#7a4fa0'], '#2f6f8f'),
    });
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const image = page.getByRole('img', { name: prompt });
    await image.waitFor({ timeout: 20_000 });
    await loaded(image);
    // Auto: the reference image's 4:3.
    await page.getByText('1152 × 864 (4:3), by the local generator').waitFor();
    await page.getByText('The image is done.').waitFor();
    // Live: the page showed the job's states as its event stream brought them (how many depends on how
    // fast the local generator is: queued and active may come and go before the stream opens).
    expect(statuses[0]).toBe('sending');
    expect(statuses.at(-1)).toBe('completed');
    expect(statuses.slice(1, -1)).toEqual(
      statuses.slice(1, -1).filter((status) => ['queued', 'active'].includes(status)),
    );
    expect(requests.some((url) => /\/api\/jobs\/[0-9a-f-]+\/events/.test(url))).toBe(true);
    await screenshot('generator');
  });

  it('puts the generated image in a post with an uploaded image and a short video, in order, and publishes it', async () => {
    await page.getByRole('button', { name: 'Use in post' }).click();
    await page.getByRole('heading', { name: 'New post' }).waitFor();

    await page.getByLabel('New brand name').fill('Harbour Coffee');
    await page.getByRole('button', { name: 'Create brand' }).click();
    await expect
      .poll(() => page.getByLabel('Brand', { exact: true }).locator('option:checked').textContent())
      .toBe('Harbour Coffee');
    await page.getByLabel('Caption').fill('Sunset specials at the harbour: two for one until 8 pm.');
    await page.getByLabel('Add images or videos').setInputFiles([
      { name: 'terrace.png', mimeType: 'image/png', buffer: await scene(1200, 900, ['#8ec5ff', '#e0f0ff'], '#1d5c7a') },
      { name: 'pour.mp4', mimeType: 'video/mp4', buffer: fakeMp4({ seconds: 2 }) },
    ]);
    const items = page.getByRole('list', { name: 'Media, in the order they will appear' }).getByRole('listitem');
    await expect.poll(() => items.count()).toBe(3);
    // The video before the uploaded image.
    await page.getByRole('button', { name: 'Move up pour.mp4' }).click();
    await expect
      .poll(() => items.allTextContents())
      .toEqual([
        expect.stringContaining('Generated: A lighthouse'),
        expect.stringContaining('pour.mp4'),
        expect.stringContaining('terrace.png'),
      ]);
    await screenshot('post-form');

    await page.getByRole('button', { name: 'Publish' }).click();
    const published = page.getByRole('region', { name: 'Published post' });
    await published.waitFor({ timeout: 20_000 });
    // Each step of the chain, done.
    const steps = page.locator('.steps li');
    expect(await steps.allTextContents()).toEqual([
      'Store item 1: generated image done',
      'Store item 2: pour.mp4 done',
      'Store item 3: terrace.png done',
      'Save the post done',
    ]);
    await published.getByText('Sunset specials at the harbour').waitFor();
    const images = published.getByRole('img');
    expect(await images.count()).toBe(2);
    for (const image of await images.all()) {
      await loaded(image);
      expect(await image.getAttribute('srcset')).toMatch(/\/media\/\S+ \d+w/);
    }
    expect(
      await published
        .locator('.media-grid > *')
        .evaluateAll((nodes) => nodes.map((node) => (node as { tagName: string }).tagName)),
    ).toEqual(['IMG', 'VIDEO', 'IMG']);
    await screenshot('post');

    // What the API keeps: the same order.
    const postId = await published.locator('article').getAttribute('data-post-id');
    const post = (await (await stack.request('GET', `/api/posts/${postId}`, { user: 'alice' })).json()) as {
      media: Array<{ type: string; width: number }>;
    };
    expect(post.media.map((item) => (item.type === 'image' ? item.width : item.type))).toEqual([1152, 'video', 1200]);
  });

  it('writes a blog with a generated banner', async () => {
    await page.getByRole('link', { name: 'Generate' }).click();
    const prompt = 'A steaming cup of coffee on a harbour wall, morning light';
    await page.getByLabel('Prompt').fill(prompt);
    await page.getByLabel('Reference image').setInputFiles([]);
    await page.getByLabel('Aspect ratio').selectOption('16:9');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await page.getByRole('img', { name: prompt }).waitFor({ timeout: 20_000 });
    await page.getByText('(16:9)').waitFor();
    await page.getByRole('button', { name: 'Use in blog' }).click();

    await page.getByRole('heading', { name: 'New blog' }).waitFor();
    expect(await page.getByLabel('Banner from the generator').locator('option:checked').textContent()).toContain(
      'A steaming cup of coffee',
    );
    await page.getByLabel('Title').fill('Mornings at the harbour');
    await page
      .getByLabel('Content')
      .fill('We open at seven.\n\nThe first cup is on us for anyone who brings their own mug.');
    await page.getByLabel('Image alt text').fill('A cup of coffee on a stone wall by the sea');
    await screenshot('blog-form');

    await page.getByRole('button', { name: 'Publish' }).click();
    const published = page.getByRole('region', { name: 'Published blog' });
    await published.waitFor({ timeout: 20_000 });
    await published.getByRole('heading', { name: 'Mornings at the harbour' }).waitFor();
    await published.getByText('The first cup is on us').waitFor();
    const banner = published.getByRole('img', { name: 'A cup of coffee on a stone wall by the sea' });
    await loaded(banner);
    expect(await banner.getAttribute('src')).toContain('/media/blog_banners/');
    await screenshot('blog');
  });

  it("lists the user's posts and blogs", async () => {
    await page.getByRole('link', { name: 'Library' }).click();
    const posts = page.getByRole('region', { name: 'Your posts' });
    await posts.getByRole('region', { name: 'Harbour Coffee posts' }).waitFor();
    await posts.getByText('Sunset specials at the harbour').waitFor();
    const blogs = page.getByRole('region', { name: 'Your blogs' });
    await blogs.getByRole('heading', { name: 'Mornings at the harbour' }).waitFor();
    for (const image of await posts.getByRole('img').all()) await loaded(image);
    await screenshot('library');
  });

  it('sends a large video as a resumable upload with its progress shown, then publishes the post naming it', async () => {
    await page.getByRole('link', { name: 'Post' }).click();
    await page.getByRole('heading', { name: 'New post' }).waitFor();
    await page.getByLabel('Caption').fill('The harbour at night: the whole walk along the pier.');
    const video = fakeMp4({ seconds: 30, bytes: 12 * MB });
    await page.getByLabel('Add images or videos').setInputFiles([
      { name: 'pier.png', mimeType: 'image/png', buffer: await scene(900, 600, ['#0b1d3a', '#35507a'], '#10283d') },
      { name: 'night-walk.mp4', mimeType: 'video/mp4', buffer: video },
    ]);
    await page.getByRole('button', { name: 'Move up night-walk.mp4' }).click();
    const upload = page.getByRole('progressbar', { name: 'Upload of night-walk.mp4' });
    await page.getByText('12.0 MB: sent in resumable chunks when you publish').waitFor();

    // The gateway's tus requests, as the page sent them: the chunks after the first wait until the
    // screenshot is taken, so that it shows an upload under way.
    const patches: number[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/uploads/*', async (route) => {
      const request = route.request();
      if (request.method() === 'PATCH') {
        const offset = Number(request.headers()['upload-offset']);
        patches.push(offset);
        if (offset > 0) await held;
      }
      await route.continue();
    });
    try {
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByText('Uploading night-walk.mp4 (1 of 1)…').waitFor();
      await expect
        .poll(() => upload.evaluate((bar) => (bar as unknown as { value: number }).value))
        .toBeGreaterThanOrEqual(5 * MB);
      await page.getByText(/^Uploading: \d+% of 12\.0 MB$/).waitFor();
      await screenshot('post-upload');
    } finally {
      release();
    }
    const published = page.getByRole('region', { name: 'Published post' });
    await published.getByText('The harbour at night').waitFor({ timeout: 20_000 });
    await page.unroute('**/api/uploads/*');
    // In 5 MB chunks, the small image in the post's own request.
    expect(patches).toEqual([0, 5 * MB, 10 * MB]);
    expect(await page.locator('.steps li').allTextContents()).toEqual([
      'Store item 1: night-walk.mp4 done',
      'Store item 2: pier.png done',
      'Save the post done',
    ]);
    const uploads = await stack.database.db
      .selectFrom('uploads')
      .select(['filename', 'filetype', 'length', 'usedAt'])
      .where('ownerId', '=', 'alice')
      .execute();
    expect(uploads).toEqual([
      { filename: 'night-walk.mp4', filetype: 'video/mp4', length: video.length, usedAt: expect.any(Date) },
    ]);
    const postId = await published.locator('article').getAttribute('data-post-id');
    const post = (await (await stack.request('GET', `/api/posts/${postId}`, { user: 'alice' })).json()) as {
      media: Array<{ type: string; bytes: number }>;
    };
    expect(post.media.map((item) => item.type)).toEqual(['video', 'image']);
    expect(post.media[0]?.bytes).toBe(video.length);
  });

  it('sends a blog image over 8 MB as a resumable upload', async () => {
    await page.getByRole('link', { name: 'Blog' }).click();
    await page.getByLabel('Title').fill('The harbour wall, up close');
    await page.getByLabel('Content').fill('Every stone of it.');
    // Noise does not compress: a PNG of 8.5 MB.
    const stones = await sharp({
      create: {
        width: 2000,
        height: 1600,
        channels: 3,
        background: '#7a6a55',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .png()
      .toBuffer();
    expect(stones.length).toBeGreaterThan(8 * MB);
    await page
      .getByLabel('Featured image file')
      .setInputFiles({ name: 'stones.png', mimeType: 'image/png', buffer: stones });
    await page.getByRole('button', { name: 'Publish' }).click();
    const published = page.getByRole('region', { name: 'Published blog' });
    await published.getByRole('heading', { name: 'The harbour wall, up close' }).waitFor({ timeout: 20_000 });
    const featured = published.locator('img.featured');
    await loaded(featured);
    expect(await featured.getAttribute('src')).toContain('/media/blog_featured/');
    const upload = await stack.database.db
      .selectFrom('uploads')
      .select(['filetype', 'usedAt'])
      .where('filename', '=', 'stones.png')
      .executeTakeFirstOrThrow();
    expect(upload).toEqual({ filetype: 'image/png', usedAt: expect.any(Date) });
  });

  it('ran with nothing refused by its CSP and no error', () => {
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('signs out: the token leaves sessionStorage', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token').waitFor();
    expect(await page.evaluate<string | null>("sessionStorage.getItem('mediaflow.token')")).toBeNull();
  });

  it('lets a page on an allowed origin call the API and follow a job; refuses another origin', async () => {
    const other = await context.newPage();
    await other.goto(`${allowedOrigin}/`);
    await expect
      .poll(() => other.locator('#result').textContent(), { timeout: 20_000 })
      .toBe('brands 200, request id exposed; job completed');
    await other.goto(`${refusedOrigin}/`);
    await expect.poll(() => other.locator('#result').textContent(), { timeout: 20_000 }).toMatch(/^blocked: /);
    await other.close();
  });

  it('runs the web app on an allowed origin against the gateway', async () => {
    const other = await context.newPage();
    await other.goto(`${allowedOrigin}/app/`);
    await other.getByText('Server').click();
    await other.getByLabel('API address').fill(stack.baseUrl);
    await other.getByLabel('Access token').fill(await signToken('dave'));
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByText('Signed in as dave').waitFor();
    await other.getByLabel('Prompt').fill('a kite over the dunes');
    await other.getByRole('button', { name: 'Generate' }).click();
    await loaded(other.getByRole('img', { name: 'a kite over the dunes' }));

    // The same app on an origin CORS_ORIGINS does not list cannot reach the API.
    await other.goto(`${refusedOrigin}/app/`);
    await other.getByText('Server').click();
    await other.getByLabel('API address').fill(stack.baseUrl);
    await other.getByLabel('Access token').fill(await signToken('dave'));
    await other.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => other.getByRole('alert').textContent())
      .toContain(`Cannot reach the API at ${stack.baseUrl}`);
    await other.close();
  });
});

/**
 * A page of another site: with a token, it lists brands (a preflighted GET, with Authorization), asks for
 * an image, and follows the job's event stream with EventSource and the answer's eventsUrl; it shows what
 * happened, or "blocked: …" when the browser refused to hand it the answers.
 */
function crossOriginPage(gateway: string, token: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Another site</h1><p id="result">working…</p>
<script type="module">
const gateway = ${JSON.stringify(gateway)};
const headers = { authorization: 'Bearer ' + ${JSON.stringify(token)} };
const result = document.getElementById('result');
try {
  const brands = await fetch(gateway + '/api/brands', { headers });
  const requestId = brands.headers.get('x-request-id') ? 'exposed' : 'hidden';
  const accepted = await fetch(gateway + '/api/ai-agent/generate-image', {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'from another site' }),
  }).then((response) => response.json());
  const job = await new Promise((resolve, reject) => {
    const events = new EventSource(gateway + accepted.eventsUrl);
    events.addEventListener('status', (event) => {
      const status = JSON.parse(event.data);
      if (status.status === 'completed' || status.status === 'failed') {
        events.close();
        resolve(status);
      }
    });
    events.onerror = () => {
      events.close();
      reject(new Error('the event stream failed'));
    };
  });
  result.textContent = 'brands ' + brands.status + ', request id ' + requestId + '; job ' + job.status;
} catch (error) {
  result.textContent = 'blocked: ' + error.message;
}
</script></body></html>`;
}
