import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '@mediaflow/db';
import { LocalImageGenerator, toJpegAtRatio } from '@mediaflow/providers';
import type { Redis } from '@mediaflow/queue';
import { FlowProducer, Queue } from 'bullmq';
import { median } from './report.ts';
import { BARE_PREFIX } from './setup.ts';

/** Requests or adds in flight at once while a pipeline is fed. */
const SUBMITTERS = 16;
/** Submissions (or bare jobs) run before each timed batch, so that start-up costs are not timed. */
const WARMUP = SUBMITTERS;
const POLL_MS = 25;
const PIPELINE_TIMEOUT_MS = 180_000;

export interface Rate {
  perSecond: number;
  /** Submissions not answered 202, and jobs that failed: any makes the run invalid. */
  errors: number;
}

export interface User {
  id: string;
  token: string;
}

export interface Poster extends User {
  brandId: string;
}

/** `count` generations submitted through the gateway, timed until every one has ended in PostgreSQL. */
export async function generationsEndToEnd(gatewayUrl: string, db: Db, users: User[], count: number): Promise<Rate> {
  return endToEnd(db, count, (i) => submitGeneration(gatewayUrl, users, i));
}

/** The i-th generation of a run, by one of `users` in turn. */
export function submitGeneration(gatewayUrl: string, users: User[], i: number): Promise<Response> {
  const user = users[i % users.length] as User;
  return fetch(`${gatewayUrl}/api/ai-agent/generate-image`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${user.token}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ prompt: `a lighthouse on a cliff at dusk, number ${i}` }),
  });
}

/** `count` posts of two uploaded images each, timed until every one is written (or failed) in PostgreSQL. */
export async function postsEndToEnd(
  gatewayUrl: string,
  db: Db,
  posters: Poster[],
  images: [Buffer, Buffer],
  count: number,
): Promise<Rate> {
  return endToEnd(db, count, (i) => submitPost(gatewayUrl, posters, images, i));
}

/** The i-th post of a run, with `images`, by one of `posters` in turn. */
export function submitPost(gatewayUrl: string, posters: Poster[], images: Buffer[], i: number): Promise<Response> {
  const poster = posters[i % posters.length] as Poster;
  const form = new FormData();
  form.append('caption', `benchmark post ${i}`);
  form.append('brandId', poster.brandId);
  for (const [n, image] of images.entries()) form.append('media', new Blob([new Uint8Array(image)]), `image-${n}`);
  return fetch(`${gatewayUrl}/api/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${poster.token}`, 'idempotency-key': randomUUID() },
    body: form,
  });
}

/** A warm-up batch (discarded), then `count` submissions timed from the first until every job has ended. */
async function endToEnd(db: Db, count: number, submit: (i: number) => Promise<Response>): Promise<Rate> {
  await submitAndWait(db, WARMUP, submit);
  const started = performance.now();
  const { rejected, failed } = await submitAndWait(db, count, submit);
  return { perSecond: count / ((performance.now() - started) / 1000), errors: rejected + failed };
}

async function submitAndWait(
  db: Db,
  count: number,
  submit: (i: number) => Promise<Response>,
): Promise<{ rejected: number; failed: number }> {
  const accepted: string[] = [];
  let rejected = 0;
  await pool(count, async (i) => {
    const response = await submit(i);
    if (response.status === 202) accepted.push(((await response.json()) as { jobId: string }).jobId);
    else {
      rejected++;
      await response.arrayBuffer();
    }
  });
  let failed = 0;
  if (accepted.length > 0) {
    await until(async () => {
      const ended = await db
        .selectFrom('jobs')
        .select('status')
        .where('id', 'in', accepted)
        .where('status', 'in', ['completed', 'failed'])
        .execute();
      failed = ended.filter((job) => job.status === 'failed').length;
      return ended.length >= accepted.length;
    });
  }
  return { rejected, failed };
}

/** Times (c) is drained in a round: its figure is their median. */
export const BARE_JOB_DRAINS = 3;
const ADD_BATCH = 1_000;
/** Jobs drained (untimed) before (c)'s timed drains, so that the bare workers are warm. */
const BARE_JOB_WARMUP = 1_000;

/**
 * Baseline (c): `count` no-op jobs added to the paused generation queue, then timed from its resume until
 * bare workers completed them all; the median of BARE_JOB_DRAINS drains. Why from a full queue: fed 16
 * adds at a time, the workers and the adding process raced for two cores, and the rate swung between
 * 3,690 and 6,473 jobs a second over five runs, more than anything measured against it; drained, three
 * at a time, a round's figure moved by 4–8% in a probe.
 */
export async function bareJobs(redis: Redis, count: number): Promise<Rate> {
  const queue = new Queue('generation', { connection: redis, prefix: BARE_PREFIX });
  const drain = async (n: number) => {
    await queue.pause();
    const done = (await queue.getCompletedCount()) + n;
    for (let added = 0; added < n; added += ADD_BATCH) {
      const batch = Math.min(ADD_BATCH, n - added);
      await queue.addBulk(Array.from({ length: batch }, (_, i) => ({ name: 'noop', data: { i: added + i } })));
    }
    const started = performance.now();
    await queue.resume();
    await until(async () => (await queue.getCompletedCount()) >= done);
    return n / ((performance.now() - started) / 1000);
  };
  await drain(BARE_JOB_WARMUP);
  const rates: number[] = [];
  for (let i = 0; i < BARE_JOB_DRAINS; i++) rates.push(await drain(count));
  await queue.close();
  return { perSecond: median(rates), errors: 0 };
}

/** Baseline (d): `count` flows shaped like a post (two storage children, one persistence parent), all no-ops. */
export async function bareFlows(redis: Redis, count: number): Promise<Rate> {
  const flows = new FlowProducer({ connection: redis, prefix: BARE_PREFIX });
  const parents = new Queue('persistence', { connection: redis, prefix: BARE_PREFIX });
  const addAndWait = async (n: number) => {
    const done = (await parents.getCompletedCount()) + n;
    await pool(n, (i) =>
      flows.add({
        name: 'noop-parent',
        queueName: 'persistence',
        data: { i },
        children: [0, 1].map((child) => ({ name: 'noop', queueName: 'storage', data: { i, child } })),
      }),
    );
    await until(async () => (await parents.getCompletedCount()) >= done);
  };
  await addAndWait(WARMUP);
  const started = performance.now();
  await addAndWait(count);
  const perSecond = count / ((performance.now() - started) / 1000);
  await Promise.all([flows.close(), parents.close()]);
  return { perSecond, errors: 0 };
}

/**
 * Baseline (e): what one generation costs with no queue, database or store around it — the local
 * generator drawing the image and the JPEG step after it, in this process, as many at once as one
 * generator process runs.
 */
export async function generatorAlone(concurrency: number, count: number): Promise<number> {
  const generator = new LocalImageGenerator();
  const draw = async (i: number) => {
    const image = await generator.generate({
      prompt: `a lighthouse on a cliff at dusk, number ${i}`,
      aspectRatio: '1:1',
    });
    await toJpegAtRatio(image.data, '1:1');
  };
  await draw(-1);
  const started = performance.now();
  await pool(count, draw, concurrency);
  return count / ((performance.now() - started) / 1000);
}

/** Runs work(0..count-1) with `concurrency` calls in flight at once. */
async function pool(count: number, work: (i: number) => Promise<unknown>, concurrency = SUBMITTERS): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + PIPELINE_TIMEOUT_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done after ${PIPELINE_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}
