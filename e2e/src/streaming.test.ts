import { stat } from 'node:fs/promises';
import path from 'node:path';
import { signToken } from '@mediaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const VIDEO_BYTES = 200 * 1024 * 1024;
const CHUNK = 256 * 1024;
/**
 * Generous, and well under the file's size: the client making the body runs in this process too, and
 * together they grow by about 80 MB whether the file is 200 or 400 MB. A gateway that buffered the file
 * would grow by 200 MB or more.
 */
const MAX_RSS_GROWTH = 128 * 1024 * 1024;

/** A multipart body whose 200 MB video part is made as it is sent: the test itself holds none of it. */
function multipartStream(boundary: string, brandId: string): ReadableStream<Uint8Array> {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nbig one\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="brandId"\r\n\r\n${brandId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = Buffer.alloc(CHUNK, 0x42);
  Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]).copy(chunk);
  const body = Buffer.alloc(CHUNK, 0x42);
  let sent = 0;
  let stage: 'head' | 'body' | 'tail' | 'done' = 'head';
  return new ReadableStream({
    pull(controller) {
      if (stage === 'head') {
        controller.enqueue(head);
        stage = 'body';
      } else if (stage === 'body') {
        controller.enqueue(sent === 0 ? chunk : body);
        sent += CHUNK;
        if (sent >= VIDEO_BYTES) stage = 'tail';
      } else if (stage === 'tail') {
        controller.enqueue(tail);
        stage = 'done';
      } else {
        controller.close();
      }
    },
  });
}

describe('streaming a large upload', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('stores a 200 MB video without the gateway holding it in memory', async () => {
    const brand = await stack.request('POST', '/api/brands', { user: 'alice', json: { name: 'Big' } });
    const { id: brandId } = (await brand.json()) as { id: string };
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const boundary = 'mediaflow-test-boundary';
    const response = await fetch(`${stack.baseUrl}/api/posts`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await signToken('alice')}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body: multipartStream(boundary, brandId),
      duplex: 'half',
    } as RequestInit);
    clearInterval(sampler);
    expect(response.status).toBe(202);
    const growth = peak - baseline;
    expect(growth, `RSS grew by ${Math.round(growth / 1048576)} MB`).toBeLessThan(MAX_RSS_GROWTH);

    const { jobId } = (await response.json()) as { jobId: string };
    const job = await stack.waitForJob(jobId, 'alice', 60_000);
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const [media] = (job.result as { media: Array<{ url: string; type: string }> }).media;
    expect(media?.type).toBe('video');
    const file = path.join(stack.mediaDir, new URL(media?.url ?? '').pathname.replace(/^\/media\//, ''));
    expect((await stat(file)).size).toBe(VIDEO_BYTES);
  }, 120_000);
});
