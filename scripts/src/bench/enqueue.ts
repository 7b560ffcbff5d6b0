import { randomUUID } from 'node:crypto';
import type { JobRequest } from '@mediaflow/domain';
import { QueueRepository, type Redis, type RetryPolicy } from '@mediaflow/queue';
import { Queue } from 'bullmq';
import { percentile } from './report.ts';
import { IDLE_PREFIX } from './setup.ts';

const BULK_CHUNK = 1_000;
const WARMUP_ADDS = 1_000;
const QUEUE_ORDER = ['backlogged', 'empty'] as const;

export interface Latency {
  p50Ms: number;
  p99Ms: number;
}

export interface EnqueueLatency {
  empty: Latency;
  backlogged: Latency;
  /** Each block's backlogged figure over its empty one, block by block. */
  blockRatios: { p50: number[]; p99: number[] };
}

/**
 * Latency of one QueueRepository.add — the call the gateway makes for each accepted generation — on a queue
 * no worker consumes with `backlog` jobs waiting (bulk-added in chunks), and on one that holds only what
 * the measurement adds: `samples` adds each, alternating, both warm, in `blocks` blocks whose ratios are
 * kept one by one.
 */
export async function enqueueLatency(
  redis: Redis,
  retry: RetryPolicy,
  samples: number,
  backlog: number,
  blocks: number,
): Promise<EnqueueLatency> {
  const producer = new QueueRepository({ connection: redis, prefix: IDLE_PREFIX, retry });
  const emptyProducer = new QueueRepository({ connection: redis, prefix: `${IDLE_PREFIX}-empty`, retry });
  // The backlog is bulk-added straight into BullMQ: setting up the measurement is not what is measured.
  const queue = new Queue('generation', { connection: redis, prefix: IDLE_PREFIX });
  try {
    await addTimed(producer, WARMUP_ADDS, []);
    await addTimed(emptyProducer, WARMUP_ADDS, []);
    for (let added = 0; added < backlog; added += BULK_CHUNK) {
      await queue.addBulk(
        Array.from({ length: Math.min(BULK_CHUNK, backlog - added) }, () => {
          const { name, payload } = generation();
          return { name, data: payload };
        }),
      );
    }
    const waiting = await queue.getWaitingCount();
    if (waiting < backlog) throw new Error(`only ${waiting} of ${backlog} jobs are waiting`);
    const producers = { backlogged: producer, empty: emptyProducer };
    const all = { backlogged: [] as number[], empty: [] as number[] };
    const blockRatios = { p50: [] as number[], p99: [] as number[] };
    for (let block = 0; block < blocks; block++) {
      const times = { backlogged: [] as number[], empty: [] as number[] };
      // One add on each queue in turn, so that noise longer than an add falls on both alike (in blocks of
      // 250 adds, two runs' p99 ratios were 0.82 and 1.16). Which goes first is drawn each time, so that
      // nothing recurring with the loop's rhythm falls on one queue only (with the backlogged queue always
      // first, one run measured the empty queue's p99 at twice the other's).
      for (let done = 0; done < samples / blocks; done++) {
        const order = Math.random() < 0.5 ? QUEUE_ORDER : QUEUE_ORDER.toReversed();
        for (const which of order) await addTimed(producers[which], 1, times[which]);
      }
      const [backlogged, empty] = [latency(times.backlogged), latency(times.empty)];
      blockRatios.p50.push(backlogged.p50Ms / empty.p50Ms);
      blockRatios.p99.push(backlogged.p99Ms / empty.p99Ms);
      all.backlogged.push(...times.backlogged);
      all.empty.push(...times.empty);
    }
    return { backlogged: latency(all.backlogged), empty: latency(all.empty), blockRatios };
  } finally {
    await Promise.all([producer.close(), emptyProducer.close(), queue.close()]);
  }
}

/** `count` adds one after another, each timed on its own into `times`. */
async function addTimed(producer: QueueRepository, count: number, times: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await producer.add(generation());
    times.push(performance.now() - started);
  }
}

function latency(times: number[]): Latency {
  return { p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99) };
}

function generation(): JobRequest {
  return {
    name: 'generate-image',
    payload: { jobId: randomUUID(), ownerId: 'bench', prompt: 'a lighthouse on a cliff at dusk', hasReference: false },
  };
}
