import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, createTestRedis, signToken, sparePort, TEST_JWT_SECRET } from '@mediaflow/testing';
import { describe, expect, it } from 'vitest';

const START = path.join(path.dirname(fileURLToPath(import.meta.url)), 'start.ts');

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, [START], {
    // biome-ignore lint/style/noProcessEnv: the launcher runs as a deployment would, with the test's variables on top
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('npm start', () => {
  it('runs the whole flow on the local stand-ins and exits 0 after SIGTERM', async () => {
    const database = await createTestDatabase();
    const redis = createTestRedis();
    const mediaDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-start-'));
    const webAppDir = await mkdtemp(path.join(tmpdir(), 'mediaflow-start-web-'));
    const port = await sparePort();
    const base = `http://127.0.0.1:${port}`;
    const launcher = run({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      MEDIA_DIR: mediaDir,
      WEB_APP_DIR: webAppDir,
      PUBLIC_URL: base,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
    });
    try {
      await waitFor(async () => (await fetch(`${base}/readyz`)).ok, 20_000, launcher.output);
      expect(launcher.output()).toContain('LOCAL generator');
      // The web app, built before the services started, and a token to sign in to it with.
      expect(launcher.output()).toContain(`web app: http://localhost:${port}/app/`);
      const devToken = /development token .*\n\s+(\S+)/.exec(launcher.output())?.[1];
      const app = await fetch(`${base}/app/`);
      expect(app.status).toBe(200);
      expect(await app.text()).toContain('<title>mediaflow</title>');
      const brands = await fetch(`${base}/api/brands`, { headers: { authorization: `Bearer ${devToken}` } });
      expect(brands.status).toBe(200);

      const headers = { authorization: `Bearer ${await signToken('alice')}`, 'content-type': 'application/json' };
      const accepted = await fetch(`${base}/api/ai-agent/generate-image`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ prompt: 'a kite' }),
      });
      expect(accepted.status).toBe(202);
      const { statusUrl } = (await accepted.json()) as { statusUrl: string };
      let job: { status: string; result?: { url: string; assetId: string } } = { status: 'queued' };
      await waitFor(
        async () => {
          job = (await (await fetch(`${base}${statusUrl}`, { headers })).json()) as typeof job;
          return job.status === 'completed';
        },
        20_000,
        launcher.output,
      );
      const image = await fetch(String(job.result?.url));
      expect(image.headers.get('content-type')).toBe('image/jpeg');

      // A post through the storage and persistence workers, with the generated image in it.
      const brand = await fetch(`${base}/api/brands`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'Acme' }),
      });
      const { id: brandId } = (await brand.json()) as { id: string };
      const form = new FormData();
      form.append('caption', 'hello');
      form.append('brandId', brandId);
      form.append('assetId', String(job.result?.assetId));
      const post = await fetch(`${base}/api/posts`, {
        method: 'POST',
        headers: { authorization: headers.authorization },
        body: form,
      });
      expect(post.status).toBe(202);
      const { statusUrl: postStatusUrl } = (await post.json()) as { statusUrl: string };
      await waitFor(
        async () =>
          ((await (await fetch(`${base}${postStatusUrl}`, { headers })).json()) as { status: string }).status ===
          'completed',
        20_000,
        launcher.output,
      );

      launcher.child.kill('SIGTERM');
      expect(await launcher.exited).toBe(0);
    } finally {
      launcher.child.kill('SIGKILL');
      await redis.cleanup();
      await database.drop();
      await rm(mediaDir, { recursive: true, force: true });
      await rm(webAppDir, { recursive: true, force: true });
    }
  });

  it('says how to start Redis when it cannot be reached, and exits 1', async () => {
    const launcher = run({ REDIS_URL: 'redis://127.0.0.1:9', DATABASE_URL: 'postgres://postgres@127.0.0.1:9/none' });
    expect(await launcher.exited).toBe(1);
    expect(launcher.output()).toContain('Redis is not reachable at redis://127.0.0.1:9');
    expect(launcher.output()).toContain('redis-server');
  });

  it('names a malformed variable and exits 1', async () => {
    const launcher = run({ PORT: 'http' });
    expect(await launcher.exited).toBe(1);
    expect(launcher.output()).toContain('PORT must be a whole number from 1 to 65535 (got "http")');
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out; launcher output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
