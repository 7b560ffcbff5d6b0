import type { Logger } from '@mediaflow/logger';
import { workerPausedSeconds } from '@mediaflow/telemetry';

export interface OutageOptions {
  /** What is away, for logs and the paused-time metric: `database`, `redis`. */
  dependency: string;
  queue: string;
  /** Resolves once the dependency answers; throws while it does not. */
  probe: () => Promise<unknown>;
  logger: Logger;
  /** First wait between probes; doubles up to `maxDelayMs`, each with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** While it lasts, the worker takes no new jobs. */
  onDown?: () => unknown;
  /** Once it is over (after every `whenOver` callback has run), the worker takes jobs again. */
  onUp?: () => unknown;
}

/**
 * One dependency's outage as a worker sees it: the first report pauses the worker and starts probing
 * with backoff and jitter; the first probe that answers ends it, logging its length once, and resumes the
 * worker. Reports during an outage add nothing but their `whenOver` callbacks.
 */
export class Outage {
  private readonly options: Required<Omit<OutageOptions, 'onDown' | 'onUp'>> & Pick<OutageOptions, 'onDown' | 'onUp'>;
  private since: number | undefined;
  private pending: Array<() => Promise<unknown>> = [];
  private stopped = false;
  private round = 0;
  private wake: (() => void) | undefined;

  constructor(options: OutageOptions) {
    this.options = { baseDelayMs: 500, maxDelayMs: 15_000, ...options };
  }

  get isDown(): boolean {
    return this.since !== undefined;
  }

  /** How long a job put back now waits before it is offered again: the current probe interval. */
  retryDelayMs(): number {
    return jitter(this.delayMs());
  }

  private delayMs(): number {
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** this.round);
  }

  /** The dependency failed a call; `whenOver` runs (once) as soon as it answers again. */
  report(error: unknown, whenOver?: () => Promise<unknown>): void {
    if (whenOver) this.pending.push(whenOver);
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.options.logger.error(
      { err: error, dependency: this.options.dependency, queue: this.options.queue },
      `${this.options.dependency} unreachable: taking no new jobs until it answers; jobs in hand go back to the queue without counting an attempt`,
    );
    this.options.onDown?.();
    void this.probeUntilUp();
  }

  /** Stops probing (the worker is closing). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async probeUntilUp(): Promise<void> {
    for (this.round = 0; !this.stopped; this.round++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, jitter(this.delayMs()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) return;
      try {
        await this.options.probe();
      } catch {
        continue;
      }
      await this.over();
      return;
    }
  }

  private async over(): Promise<void> {
    const seconds = (Date.now() - (this.since ?? Date.now())) / 1000;
    const pending = this.pending;
    this.pending = [];
    for (const run of pending) {
      await run().catch((err: unknown) =>
        this.options.logger.warn(
          { err, dependency: this.options.dependency },
          'could not note a job put back during the outage',
        ),
      );
    }
    this.since = undefined;
    this.round = 0;
    workerPausedSeconds.inc({ queue: this.options.queue, cause: this.options.dependency }, seconds);
    this.options.logger.warn(
      { dependency: this.options.dependency, queue: this.options.queue, outageSeconds: Math.round(seconds * 10) / 10 },
      `${this.options.dependency} reachable again after ${seconds.toFixed(1)} s: taking jobs again`,
    );
    this.options.onUp?.();
  }
}

/** "Equal jitter": between half the delay and the whole of it, so that many workers do not probe in step. */
export function jitter(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2);
}
