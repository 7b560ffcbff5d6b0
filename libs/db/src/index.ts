export { createDb, type Db, pingDatabase } from './client.ts';
export { ensureDatabase, migrateToLatest } from './migrate.ts';
export { GeneratedAssetsRepository } from './repositories/generated-assets.ts';
export { type JobInput, JobsRepository } from './repositories/jobs.ts';
export { UsersRepository } from './repositories/users.ts';
export type * from './schema.ts';
