import { randomUUID } from 'node:crypto';
import { JobsRepository } from '@mediaflow/db';
import { createLogger } from '@mediaflow/logger';
import { reconcile } from '@mediaflow/maintenance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** About 100 000 characters of Markdown with `marker` in the middle; CRLF line breaks, as a form sends them. */
function longContent(marker: string): string {
  const paragraph = (n: number) => `Paragraph ${n}: déjà vu at the harbour 🦊, the tide comes in and goes out.`;
  const half = Array.from({ length: 650 }, (_, n) => paragraph(n)).join('\r\n\r\n');
  return `# A long blog\r\n\r\n${half}\r\n\r\n${marker}\r\n\r\n${half}`;
}

/** The first `length` characters (code points, as PostgreSQL counts them, not UTF-16 units). */
const firstCharacters = (text: string, length: number) => Array.from(text).slice(0, length).join('');

describe("a blog's content stays out of Redis; lists carry an excerpt", () => {
  let stack: Stack;
  const logger = createLogger({ service: 'test', level: 'silent' });

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  async function submitBlog(content: string): Promise<string> {
    const form = new FormData();
    form.append('title', 'A long blog');
    form.append('content', content);
    const response = await stack.request('POST', '/api/blogs', { user: 'alice', form });
    expect(response.status).toBe(202);
    return ((await response.json()) as { jobId: string }).jobId;
  }

  /** Every value this stack's queues keep in Redis hashes (job data, options, results), with its key. */
  async function redisHashValues(): Promise<Array<{ key: string; value: string }>> {
    const redis = stack.redis.worker;
    const values: Array<{ key: string; value: string }> = [];
    for (const key of await redis.keys(`${stack.redis.prefix}:*`)) {
      if ((await redis.type(key)) !== 'hash') continue;
      for (const value of Object.values(await redis.hgetall(key))) values.push({ key, value });
    }
    return values;
  }

  /** The persist-blog job's data as BullMQ keeps it (a blog without images is one step, step 0). */
  async function persistJobData(jobId: string): Promise<string | null> {
    return stack.redis.worker.hget(`${stack.redis.prefix}:persistence:${jobId}-0`, 'data');
  }

  /** Compares without printing 100 000 characters when they differ. */
  function expectSameText(actual: unknown, expected: string): void {
    expect(typeof actual).toBe('string');
    const text = actual as string;
    expect({ length: text.length, bytes: Buffer.byteLength(text) }).toEqual({
      length: expected.length,
      bytes: Buffer.byteLength(expected),
    });
    expect(Buffer.from(text).equals(Buffer.from(expected))).toBe(true);
  }

  it('queues ids and small fields only, and publishes the whole content, listed as an excerpt', async () => {
    const marker = `marker-${randomUUID()}`;
    const content = longContent(marker);
    expect(content.length).toBeGreaterThan(95_000);

    await stack.pauseWorkers();
    const jobId = await submitBlog(content);

    // Queued and waiting: the job's data in Redis names the job, but holds none of the content.
    expect(await stack.queuedJobs('persistence')).toBe(1);
    const data = await persistJobData(jobId);
    expect(data).not.toBeNull();
    expect(JSON.parse(data ?? '{}')).toMatchObject({ jobId, step: 0, authorId: 'alice', title: 'A long blog' });
    expect(Buffer.byteLength(data ?? '')).toBeLessThan(1_000);
    const holding = (await redisHashValues()).filter(({ value }) => value.includes(marker));
    expect(holding.map(({ key }) => key)).toEqual([]);
    // PostgreSQL keeps it, in the job's plan: the record of what was accepted.
    expectSameText(await new JobsRepository(stack.database.db).blogContent(jobId), content);

    stack.resumeWorkers();
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const { blogId } = job.result as { blogId: string };

    const one = await stack.request('GET', `/api/blogs/${blogId}`, { user: 'alice' });
    expect(one.status).toBe(200);
    const blog = (await one.json()) as Record<string, unknown>;
    expect(blog).toMatchObject({ id: blogId, title: 'A long blog' });
    expectSameText(blog.content, content);

    const list = await stack.request('GET', '/api/blogs', { user: 'alice' });
    expect(list.status).toBe(200);
    const body = await list.text();
    expect(body).not.toContain(marker);
    const { items } = JSON.parse(body) as { items: Array<Record<string, unknown>> };
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: blogId, title: 'A long blog', excerpt: firstCharacters(content, 300) });
    expect(items[0]).not.toHaveProperty('content');
  });

  it('queues no content again when the reconciler re-queues a blog that Redis lost', async () => {
    const marker = `marker-${randomUUID()}`;
    const content = longContent(marker);
    await stack.pauseWorkers();
    const jobId = await submitBlog(content);

    // Redis loses everything this stack's queues held; the reconciler queues the job again from its plan.
    const keys = await stack.redis.worker.keys(`${stack.redis.prefix}:*`);
    await stack.redis.worker.del(...keys);
    expect(await reconcile({ jobs: new JobsRepository(stack.database.db), queues: stack.queues, logger }, 0)).toBe(1);
    expect(await persistJobData(jobId)).not.toBeNull();
    const holding = (await redisHashValues()).filter(({ value }) => value.includes(marker));
    expect(holding.map(({ key }) => key)).toEqual([]);

    stack.resumeWorkers();
    const job = await stack.waitForJob(jobId, 'alice');
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const { blogId } = job.result as { blogId: string };
    const blog = (await (await stack.request('GET', `/api/blogs/${blogId}`, { user: 'alice' })).json()) as {
      content: string;
    };
    expectSameText(blog.content, content);
  });
});
