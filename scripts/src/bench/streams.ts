import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Db, JobsRepository } from '@mediaflow/db';
import { jobEventsPublisher, type Redis } from '@mediaflow/queue';
import type { User } from './pipeline.ts';
import { processMemoryMb } from './processes.ts';
import { percentile } from './report.ts';

/** Streams opened at once while the row sets up: enough to be quick, few enough not to be a SYN flood. */
const OPENING = 200;
const STATUS_WAIT_MS = 30_000;

export interface StreamsResult {
  /** The gateway's resident memory with every stream open, above what it held before the first. */
  rssGrowthMb: number;
  /** Share of the streams that had the status change within 1 s of its announcement. */
  within1s: number;
  p99Ms: number;
  /** Streams that could not be opened, or never heard of the change. */
  errors: number;
}

interface Stream {
  /** Resolves with the time (performance.now) of the next event after `expect()` was called. */
  next(): Promise<number>;
  close(): void;
}

/**
 * `count` event streams (GET /api/jobs/:id/events) open at once on the gateway process `pid`, spread over
 * `jobs` queued generations of as many users; then each job is marked active and announced, as a worker
 * does, and every stream's wait for that event is timed.
 */
export async function manyStreams(options: {
  gatewayUrl: string;
  pid: number;
  db: Db;
  redis: Redis;
  prefix: string;
  users: User[];
  count: number;
  jobs: number;
}): Promise<StreamsResult> {
  const { gatewayUrl, users, count } = options;
  const owners = users.slice(0, options.jobs);
  const jobIds = await Promise.all(owners.map((user, i) => queueGeneration(gatewayUrl, user, i)));
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  // A few streams first, so that what loading the route costs is not counted as the streams' memory.
  const warm = await Promise.all(
    jobIds.slice(0, 10).map((jobId, i) => openStream(agent, gatewayUrl, owners[i] as User, jobId)),
  );
  for (const stream of warm) stream.close();
  await sleep(500);
  const before = await processMemoryMb(options.pid, 'VmRSS');

  const streams: Stream[] = [];
  let errors = 0;
  for (let opened = 0; opened < count; opened += OPENING) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(OPENING, count - opened) }, (_, n) => {
        const i = (opened + n) % jobIds.length;
        return openStream(agent, gatewayUrl, owners[i] as User, jobIds[i] as string);
      }),
    );
    for (const result of batch) {
      if (result.status === 'fulfilled') streams.push(result.value);
      else errors++;
    }
  }
  const rssGrowthMb = (await processMemoryMb(options.pid, 'VmRSS')) - before;

  const waits = streams.map((stream) => stream.next());
  const jobs = new JobsRepository(options.db);
  const announce = jobEventsPublisher(options.redis, options.prefix);
  for (const jobId of jobIds) await jobs.markActive({ jobId });
  const announced = performance.now();
  await Promise.all(jobIds.map((jobId) => announce({ ref: { jobId } })));
  const arrivals = await Promise.all(
    waits.map((wait) => Promise.race([wait, sleep(STATUS_WAIT_MS, Number.POSITIVE_INFINITY)])),
  );
  for (const stream of streams) stream.close();
  agent.destroy();

  const delays = arrivals.map((at) => at - announced);
  errors += delays.filter((delay) => !Number.isFinite(delay)).length;
  return {
    rssGrowthMb,
    within1s: delays.filter((delay) => delay <= 1_000).length / count,
    p99Ms: percentile(delays, 0.99),
    errors,
  };
}

async function queueGeneration(gatewayUrl: string, user: User, i: number): Promise<string> {
  const response = await fetch(`${gatewayUrl}/api/ai-agent/generate-image`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `a stream of events, number ${i}` }),
  });
  if (response.status !== 202) throw new Error(`a generation for the streams answered ${response.status}`);
  return ((await response.json()) as { jobId: string }).jobId;
}

/** An SSE stream of the job, open once its first event (the current state) has arrived. */
function openStream(agent: http.Agent, gatewayUrl: string, user: User, jobId: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let waiting: ((at: number) => void) | undefined;
    let opened = false;
    const request = http.get(
      `${gatewayUrl}/api/jobs/${jobId}/events`,
      { agent, headers: { authorization: `Bearer ${user.token}`, accept: 'text/event-stream' } },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`a stream answered ${response.statusCode}`));
          return;
        }
        response.setEncoding('utf8');
        response.on('data', (text: string) => {
          // Keep-alive comments are not events; an event has a data line.
          if (!text.includes('data:')) return;
          const at = performance.now();
          if (!opened) {
            opened = true;
            resolve({
              next: () => new Promise((arrived) => (waiting = arrived)),
              close: () => request.destroy(),
            });
            return;
          }
          waiting?.(at);
          waiting = undefined;
        });
      },
    );
    request.on('error', (error) => {
      if (!opened) reject(error);
    });
  });
}
