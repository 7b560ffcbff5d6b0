import { type DestinationStream, type Logger, pino } from 'pino';

export type { DestinationStream, Logger };

/**
 * One pino logger per process; `service` on every line tells which process wrote it. Lines go to stdout,
 * or to `destination` (tests that read what was logged).
 */
export function createLogger(options: { service: string; level: string; destination?: DestinationStream }): Logger {
  return pino({ level: options.level, base: { service: options.service } }, options.destination);
}

/** For tests and tools that want no output. */
export const silentLogger: Logger = pino({ level: 'silent' });
