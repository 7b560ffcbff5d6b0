export * from './errors.ts';
export * from './jobs.ts';
export * from './media.ts';
