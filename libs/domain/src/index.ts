export * from './errors.ts';
export * from './job-status.ts';
export * from './jobs.ts';
export * from './media.ts';
export * from './webhooks.ts';
