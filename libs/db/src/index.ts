export { createDb, type Db, pingDatabase, runExclusive } from './client.ts';
export { ensureDatabase, migrateToLatest } from './migrate.ts';
export { BlogsRepository, type NewBlog } from './repositories/blogs.ts';
export { type Brand, BrandsRepository } from './repositories/brands.ts';
export { type Cursor, decodeCursor, encodeCursor } from './repositories/cursor.ts';
export { GeneratedAssetsRepository } from './repositories/generated-assets.ts';
export {
  IDEMPOTENCY_KEY_TIMES,
  type IdempotencyClaim,
  IdempotencyKeysRepository,
  IdempotencyKeyTaken,
  type IdempotentAnswer,
} from './repositories/idempotency-keys.ts';
export {
  type FailedSubmission,
  InFlightCapReached,
  type JobInput,
  type JobStatusRecord,
  type JobStepView,
  JobsRepository,
  type NewJobRecord,
  type NewJobStep,
} from './repositories/jobs.ts';
export { type NewMedia, type NewPost, PostsRepository, type PostWithMedia } from './repositories/posts.ts';
export { type CheckedUpload, type NewUpload, UploadsRepository } from './repositories/uploads.ts';
export { UsersRepository } from './repositories/users.ts';
export {
  type DeliveryToSend,
  type NewWebhook,
  WebhookDeliveryRecorder,
  type WebhookDeliveryView,
  WebhooksRepository,
  type WebhookView,
} from './repositories/webhooks.ts';
export type * from './schema.ts';
