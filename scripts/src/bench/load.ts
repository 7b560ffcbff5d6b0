import autocannon from 'autocannon';
import { median, percentile } from './report.ts';

/** Enough to keep every layer busy; the gateway's PostgreSQL pool (10) is the narrowest. */
const CONNECTIONS = 50;

export interface LoadResult {
  /** Mean requests a second over the measured run. */
  rps: number;
  /** The 99th percentile of the measured responses' times. */
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
  const latenciesMs: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url, connections: CONNECTIONS, duration: timing.seconds, requests: [request] };
    autocannon(options, (error, done) => (error ? reject(error) : resolve(done))).on(
      'response',
      (_client, _status, _bytes, responseTimeMs) => latenciesMs.push(responseTimeMs),
    );
  });
  return { rps: result.requests.average, p99Ms: percentile(latenciesMs, 0.99), errors: result.non2xx + result.errors };
}

/**
 * A route's rounds as one: the median round's rate and the median round's p99, as every row measured in
 * rounds takes its figure, so that a round on which a stall of the machine fell cannot carry it. Pooled
 * over all rounds' answers, the generate-image p99 ratio moved most of all rows between runs (1.27×,
 * 1.36×, 1.47× and 1.80× in four runs on one machine). A round has some 20,000 answers on a 2-core
 * machine, so its p99 is the slowest 200 of them.
 */
export function overRounds(rounds: LoadResult[]): LoadResult {
  return {
    rps: median(rounds.map((round) => round.rps)),
    p99Ms: median(rounds.map((round) => round.p99Ms)),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
  };
}
