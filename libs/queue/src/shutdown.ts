import type { Logger } from '@mediaflow/logger';
import closeWithGrace from 'close-with-grace';

/**
 * On SIGTERM or SIGINT (or a crash): stop taking work, let what is in flight finish within the deadline,
 * close, and exit 0 — or 1 when the deadline passes or closing fails.
 */
export function closeOnSignal(options: {
  logger: Logger;
  what: string;
  deadlineMs: number;
  close: () => Promise<void>;
}): void {
  closeWithGrace({ delay: options.deadlineMs, logger: options.logger }, async ({ signal, err }) => {
    if (err) options.logger.error({ err }, `${options.what} crashed; shutting down`);
    else options.logger.info({ signal }, `${options.what} shutting down: finishing in-flight jobs`);
    await options.close();
  });
}
