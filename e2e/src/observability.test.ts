import { registry, startTracing } from '@mediaflow/telemetry';
import {
  type FakeCloudinary,
  type FakeImageKit,
  type FakeOtlpCollector,
  makeImage,
  sparePort,
  spawnService,
  startFakeCloudinary,
  startFakeImageKit,
  startFakeOtlpCollector,
} from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

async function createBrand(stack: Stack): Promise<string> {
  const response = await stack.request('POST', '/api/brands', { json: { name: 'Observed' } });
  return ((await response.json()) as { id: string }).id;
}

async function submitPost(stack: Stack, brandId: string, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('caption', 'traced');
  form.append('brandId', brandId);
  form.append('media', new Blob([await makeImage(40, 30)]), 'a.png');
  form.append('media', new Blob([await makeImage(30, 40)]), 'b.png');
  return stack.request('POST', '/api/posts', { form, headers });
}

async function generate(stack: Stack): Promise<string> {
  const response = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'a lighthouse' } });
  expect(response.status).toBe(202);
  return ((await response.json()) as { jobId: string }).jobId;
}

/** The value of one series in a Prometheus text page, or undefined when the page lacks it. */
function sample(page: string, series: string): number | undefined {
  const line = page.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('workers as processes: request ids, traces, worker metrics, polling', () => {
  let collector: FakeOtlpCollector;
  let stopTracing: () => Promise<void>;
  let stack: Stack;

  beforeAll(async () => {
    collector = await startFakeOtlpCollector();
    // This process runs the gateway; the workers run as their own processes, exporting on their own.
    stopTracing = startTracing('gateway', { otlpEndpoint: collector.endpoint, otelServiceName: undefined });
    stack = await startStack({ inProcessWorkers: false });
  });
  afterAll(async () => {
    await stack.stop();
    await stopTracing();
    await collector.close();
  });

  it('follows a post from its HTTP request through both queue hops to the database write', async () => {
    const metricsPort = await sparePort();
    const env = { ...stack.env, LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint };
    const storage = spawnService('storage', { ...env, METRICS_PORT: String(metricsPort) });
    const persistence = spawnService('persistence', env);

    const response = await submitPost(stack, await createBrand(stack), { 'x-request-id': 'req-observed-1' });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-request-id')).toBe('req-observed-1');
    const { jobId } = (await response.json()) as { jobId: string };
    expect((await stack.waitForJob(jobId, 'user-1', 30_000)).status).toBe('completed');

    // The storage worker's side door: alive, ready, and counting what it did.
    const ops = `http://127.0.0.1:${metricsPort}`;
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${ops}/readyz`)).json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', postgres: 'ok' },
    });
    const page = await (await fetch(`${ops}/metrics`)).text();
    expect(sample(page, 'mediaflow_job_duration_seconds_count{kind="promote-media",outcome="completed"}')).toBe(2);
    expect(sample(page, 'mediaflow_provider_calls_total{provider="local",operation="promote",outcome="ok"}')).toBe(2);
    expect(sample(page, 'mediaflow_queue_jobs{queue="storage",state="completed"}')).toBe(2);
    expect((await fetch(`${ops}/nowhere`)).status).toBe(404);

    // SIGTERM flushes each worker's spans before it exits.
    storage.child.kill('SIGTERM');
    persistence.child.kill('SIGTERM');
    expect(await storage.exited, storage.output()).toBe(0);
    expect(await persistence.exited, persistence.output()).toBe(0);
    await stopTracing();

    const request = collector.spans.find((span) => span.name === 'POST /api/posts');
    expect(request?.service).toBe('mediaflow-gateway');
    const trace = collector.spans.filter((span) => span.traceId === request?.traceId);
    const named = (name: string) => trace.filter((span) => span.name === name);
    expect(named('storage promote-media').map((span) => span.service)).toEqual([
      'mediaflow-storage',
      'mediaflow-storage',
    ]);
    expect(named('local promote')).toHaveLength(2);
    const [persist] = named('persistence persist-post');
    expect(persist?.service).toBe('mediaflow-persistence');
    expect(persist?.parentSpanId).toBe(request?.spanId);
    const [write] = named('db write post');
    expect(write?.parentSpanId).toBe(persist?.spanId);

    // Every line either worker wrote about this job carries the request's id.
    for (const worker of [storage, persistence]) {
      const lines = worker
        .output()
        .split('\n')
        .filter((line) => line.includes(jobId));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ requestId: 'req-observed-1' });
    }
  }, 60_000);

  it('GET /api/jobs/:id: an ETag, 304 while nothing changed, Retry-After while the job runs', async () => {
    // No generator runs yet: the job stays queued until one is started.
    const jobId = await generate(stack);
    const first = await stack.request('GET', `/api/jobs/${jobId}`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers.get('retry-after')).toBe('2');

    const unchanged = await stack.request('GET', `/api/jobs/${jobId}`, { headers: { 'if-none-match': etag ?? '' } });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');
    expect(unchanged.headers.get('etag')).toBe(etag);

    const generator = spawnService('generator', stack.env);
    try {
      expect((await stack.waitForJob(jobId, 'user-1', 30_000)).status).toBe('completed');
    } finally {
      generator.child.kill('SIGTERM');
      await generator.exited;
    }
    const changed = await stack.request('GET', `/api/jobs/${jobId}`, { headers: { 'if-none-match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.headers.get('retry-after')).toBeNull();
    expect(((await changed.json()) as { status: string }).status).toBe('completed');

    // Another user's job is still not found, ETag or not.
    const stranger = await stack.request('GET', `/api/jobs/${jobId}`, {
      user: 'user-2',
      headers: { 'if-none-match': changed.headers.get('etag') ?? '' },
    });
    expect(stranger.status).toBe(404);
  }, 60_000);
});

describe('gateway metrics', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('GET /metrics reports requests by route, queue depths, jobs and provider calls', async () => {
    // One registry per process, and earlier tests of this file ran in this one: compare with before.
    const before = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    const jobId = await generate(stack);
    expect((await stack.waitForJob(jobId, 'user-1')).status).toBe('completed');
    const response = await fetch(`${stack.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const page = await response.text();
    const grew = (series: string) => (sample(page, series) ?? 0) - (sample(before, series) ?? 0);
    expect(
      grew(
        'mediaflow_http_request_duration_seconds_count{method="POST",route="/api/ai-agent/generate-image",status_code="202"}',
      ),
    ).toBe(1);
    expect(
      grew('mediaflow_http_request_duration_seconds_count{method="GET",route="/api/jobs/:jobId",status_code="200"}'),
    ).toBeGreaterThan(0);
    expect(sample(page, 'mediaflow_queue_jobs{queue="generation",state="completed"}')).toBe(1);
    expect(sample(page, 'mediaflow_queue_jobs{queue="persistence",state="waiting"}')).toBe(0);
    // The workers run in this process here, so their metrics share the page.
    expect(grew('mediaflow_job_duration_seconds_count{kind="generate-image",outcome="completed"}')).toBe(1);
    expect(grew('mediaflow_provider_calls_total{provider="local",operation="generate",outcome="ok"}')).toBe(1);
    expect(grew('mediaflow_provider_calls_total{provider="local",operation="upload",outcome="ok"}')).toBe(1);
  });
});

describe('provider metrics under a Cloudinary outage', () => {
  let cloudinary: FakeCloudinary;
  let imagekit: FakeImageKit;
  let stack: Stack;

  beforeAll(async () => {
    cloudinary = await startFakeCloudinary({ cloudName: 'demo', apiKey: '123456789', apiSecret: 'test-secret' });
    imagekit = await startFakeImageKit({ privateKey: 'private_test_key' });
    stack = await startStack({ cloudinary, imagekit });
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([cloudinary.close(), imagekit.close()]);
  });

  it('counts each failed Cloudinary try and the fallback to ImageKit', async () => {
    cloudinary.failNextOn('upload', 3, 500);
    const jobId = await generate(stack);
    expect((await stack.waitForJob(jobId, 'user-1')).result).toMatchObject({ provider: 'imagekit' });
    const page = await registry.metrics();
    expect(
      sample(page, 'mediaflow_provider_calls_total{provider="cloudinary",operation="upload",outcome="error"}'),
    ).toBe(3);
    expect(sample(page, 'mediaflow_provider_calls_total{provider="imagekit",operation="upload",outcome="ok"}')).toBe(1);
    expect(sample(page, 'mediaflow_store_fallbacks_total{from="cloudinary",to="imagekit",operation="upload"}')).toBe(1);
  });
});
