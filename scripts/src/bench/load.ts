import autocannon from 'autocannon';
import { median, percentile } from './report.ts';

/** Enough to keep every layer busy; the gateway's PostgreSQL pool (10) is the narrowest. */
const CONNECTIONS = 50;

export interface LoadResult {
  /** Mean requests a second over the measured run. */
  rps: number;
  /** Every measured response's time, for a percentile over several rounds together. */
  latenciesMs: number[];
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
  const latenciesMs: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url, connections: CONNECTIONS, duration: timing.seconds, requests: [request] };
    autocannon(options, (error, done) => (error ? reject(error) : resolve(done))).on(
      'response',
      (_client, _status, _bytes, responseTimeMs) => latenciesMs.push(responseTimeMs),
    );
  });
  return { rps: result.requests.average, latenciesMs, errors: result.non2xx + result.errors };
}

/**
 * A route's rounds as one: the median round's rate, and the p99 of every round's responses together.
 * A round's own p99 is its 70 slowest answers in 5 s, whichever stall of this shared machine fell in
 * them: one route's per-round p99 ratios ran from 1.05 to 2.36 in one run, so the median of five moved by
 * 30% between runs.
 */
export function overRounds(rounds: LoadResult[]): { rps: number; p99Ms: number; errors: number } {
  return {
    rps: median(rounds.map((round) => round.rps)),
    p99Ms: percentile(
      rounds.flatMap((round) => round.latenciesMs),
      0.99,
    ),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
  };
}
