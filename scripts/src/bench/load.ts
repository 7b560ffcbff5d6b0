import autocannon from 'autocannon';
import { median } from './report.ts';

/** Enough to keep every layer busy; the gateway's PostgreSQL pool (10) is the narrowest. */
const CONNECTIONS = 50;

export interface LoadResult {
  /** Mean requests a second over the measured run. */
  rps: number;
  p99Ms: number;
  /** Non-2xx answers plus connection errors and timeouts: any makes the run invalid. */
  errors: number;
}

/** A warm-up run (discarded), then the measured one, both at CONNECTIONS connections for a fixed time. */
export async function load(
  url: string,
  request: autocannon.Request,
  timing: { warmupSeconds: number; seconds: number },
): Promise<LoadResult> {
  await autocannon({ url, connections: CONNECTIONS, duration: timing.warmupSeconds, requests: [request] });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: timing.seconds, requests: [request] });
  return { rps: result.requests.average, p99Ms: result.latency.p99, errors: result.non2xx + result.errors };
}

/** The median round of each figure (taken apart: the median rate and the median p99 may be other rounds'). */
export function medianLoad(rounds: LoadResult[]): LoadResult {
  return {
    rps: median(rounds.map((round) => round.rps)),
    p99Ms: median(rounds.map((round) => round.p99Ms)),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
  };
}
