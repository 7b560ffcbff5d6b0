import type { Logger } from '@mediaflow/logger';

/** What the services log: errors and warnings, with the error under `err`. The app's logger, or a fake. */
export type ServiceLog = Pick<Logger, 'error' | 'warn'>;
