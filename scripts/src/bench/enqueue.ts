import { randomUUID } from 'node:crypto';
import type { JobRequest } from '@mediaflow/domain';
import { QueueRepository, type Redis, type RetryPolicy } from '@mediaflow/queue';
import { Queue } from 'bullmq';
import { percentile } from './report.ts';
import { IDLE_PREFIX } from './setup.ts';

const BULK_CHUNK = 1_000;
const WARMUP_ADDS = 1_000;

export interface Latency {
  p50Ms: number;
  p99Ms: number;
}

/**
 * Latency of one QueueRepository.add — the call the gateway makes for each accepted generation — on a queue
 * no worker consumes with `backlog` jobs waiting (bulk-added in chunks), and on one that holds only what
 * the measurement adds: `samples` adds each, alternating, both warm.
 */
export async function enqueueLatency(
  redis: Redis,
  retry: RetryPolicy,
  samples: number,
  backlog: number,
): Promise<{ empty: Latency; backlogged: Latency }> {
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
    const times = { backlogged: [] as number[], empty: [] as number[] };
    // One add on each queue in turn, so that any moment of the machine's noise longer than an add falls on
    // both alike: in blocks of 250 adds, two runs' p99 ratios were 0.82 and 1.16.
    for (let done = 0; done < samples; done++) {
      await addTimed(producer, 1, times.backlogged);
      await addTimed(emptyProducer, 1, times.empty);
    }
    return { backlogged: latency(times.backlogged), empty: latency(times.empty) };
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
