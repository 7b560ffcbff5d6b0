import { type Logger, pino } from 'pino';

export type { Logger };

/** One pino logger per process; `service` on every line tells which process wrote it. */
export function createLogger(options: { service: string; level: string }): Logger {
  return pino({ level: options.level, base: { service: options.service } });
}

/** For tests and tools that want no output. */
export const silentLogger: Logger = pino({ level: 'silent' });
