import type {
  AspectRatio,
  JobErrorRecord,
  JobKind,
  JobKindResult,
  JobName,
  JobPlan,
  JobStatus,
  StepResult,
  StoreProvider,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '@mediaflow/domain';
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * The one declaration of the database's tables, as Kysely sees them. Column names are the
 * seed model's (camelCase, quoted in SQL); migrations in ./migrations create exactly these.
 */
export interface Database {
  users: UsersTable;
  brands: BrandsTable;
  brand_members: BrandMembersTable;
  posts: PostsTable;
  media: MediaTable;
  blogs: BlogsTable;
  generated_assets: GeneratedAssetsTable;
  jobs: JobsTable;
  job_inputs: JobInputsTable;
  job_steps: JobStepsTable;
  idempotency_keys: IdempotencyKeysTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  uploads: UploadsTable;
}

export interface IdempotencyKeysTable {
  userId: string;
  key: string;
  /** SHA-256 of what the request asked for: the same key with another request is refused. */
  requestHash: string;
  /** Null while the first request is still being answered. */
  status: number | null;
  response: ColumnType<unknown, string | null, string | null>;
  createdAt: ColumnType<Date, Date | undefined, Date>;
}

type CreatedAt = ColumnType<Date, never, never>;
type UpdatedAt = ColumnType<Date, never, Date>;

export interface UsersTable {
  /** The JWT `sub`: whatever the identity provider uses, so text rather than uuid. */
  id: string;
  createdAt: CreatedAt;
}

export interface BrandsTable {
  id: Generated<string>;
  name: string;
  createdBy: string;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
}

export interface BrandMembersTable {
  brandId: string;
  userId: string;
  createdAt: CreatedAt;
}

export interface PostsTable {
  id: Generated<string>;
  brandId: string;
  authorId: string;
  caption: string;
  scheduledAt: Date | null;
  /** The submission job that wrote it: a second run of that job finds it instead of writing again. */
  jobId: string;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
}

export type MediaType = 'image' | 'video';

export interface MediaTable {
  id: Generated<string>;
  url: string;
  type: MediaType;
  postId: string;
  brandId: string;
  userId: string;
  position: number;
  provider: StoreProvider;
  providerId: string;
  width: number | null;
  height: number | null;
  bytes: ColumnType<number, number, number>;
  duration: number | null;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
}

export interface BlogsTable {
  id: Generated<string>;
  banner: string | null;
  image: string | null;
  imageAlt: string | null;
  title: string;
  content: string;
  authorId: string;
  jobId: string;
  createdAt: CreatedAt;
}

export interface GeneratedAssetsTable {
  id: Generated<string>;
  ownerId: string;
  /** The generation job; unique, so a retried job never records a second asset. */
  jobId: string;
  prompt: string;
  enhancedPrompt: string;
  model: string;
  aspectRatio: AspectRatio;
  referenceSha256: string | null;
  provider: StoreProvider;
  providerId: string;
  url: string;
  width: number;
  height: number;
  bytes: number;
  format: string;
  temporary: Generated<boolean>;
  expiresAt: Date | null;
  promotedAt: Date | null;
  deletedAt: Date | null;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
}

export interface JobsTable {
  id: Generated<string>;
  kind: JobKind;
  ownerId: string;
  status: Generated<JobStatus>;
  attempts: Generated<number>;
  /** Everything needed to queue the job again (JSON). */
  payload: ColumnType<JobPlan, string, string>;
  result: ColumnType<JobKindResult | null, string | null, string | null>;
  error: ColumnType<JobErrorRecord | null, string | null, string | null>;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
  finishedAt: Date | null;
  /**
   * The slot a job accepted under an in-flight cap holds while it is queued or active (a unique partial
   * index, migration 0006). Only `JobsRepository` writes it (`create` takes a slot; `resetForRetry` of a job
   * that had ended leaves it none) and nothing reads it back: not in `JobRow`.
   */
  inFlightSlot: ColumnType<never, number | null | undefined, number | null>;
  /**
   * When retention deleted what a failed submission had staged in a store's uploads/ folder (migration
   * 0009). Only retention writes and reads it (`JobsRepository`): not in `JobRow`.
   */
  stagedUploadsCleanedAt: ColumnType<never, never, Date>;
}

/** Files a job needs as input (a reference image), kept with the job so an accepted job always has them. */
export interface JobInputsTable {
  jobId: string;
  name: string;
  contentType: string;
  sha256: string;
  data: Buffer;
  createdAt: CreatedAt;
}

/** One step of a job's chain; a submission's poller sees them as `steps`. */
export interface JobStepsTable {
  jobId: string;
  step: number;
  kind: JobName;
  /** What the step works on, for people: `media[2] clip.mp4`, `banner`, `write post`. */
  label: string;
  state: Generated<JobStatus>;
  attempts: Generated<number>;
  result: ColumnType<StepResult | null, string | null, string | null>;
  error: ColumnType<JobErrorRecord | null, string | null, string | null>;
  updatedAt: UpdatedAt;
}

/** A user's endpoint, told when their jobs end (migration 0007). */
export interface WebhooksTable {
  id: Generated<string>;
  ownerId: string;
  /** https: (http: only with WEBHOOK_ALLOW_PRIVATE), checked when registered and before each delivery. */
  url: string;
  events: ColumnType<WebhookEvent[], WebhookEvent[], never>;
  /** `whsec_` and base64 of the signing key (Standard Webhooks); shown to the owner once, at registration. */
  secret: string;
  createdAt: CreatedAt;
  /** Deleted webhooks get no new deliveries, and their pending ones are not sent. */
  deletedAt: Date | null;
}

/** One event to send to one webhook: the outbox row, and the record of its attempts. */
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhookId: string;
  jobId: string;
  event: WebhookEvent;
  status: Generated<WebhookDeliveryStatus>;
  /** Attempts started so far. */
  attempt: Generated<number>;
  /** The last attempt's answer, when it had one. */
  statusCode: number | null;
  durationMs: number | null;
  /** Why the last attempt failed. */
  error: string | null;
  createdAt: CreatedAt;
  updatedAt: UpdatedAt;
}

export type BlogRow = Selectable<BlogsTable>;
export type JobRow = Selectable<JobsTable>;
export type JobStepRow = Selectable<JobStepsTable>;
export type NewJob = Insertable<JobsTable>;
export type GeneratedAssetRow = Selectable<GeneratedAssetsTable>;
export type NewGeneratedAsset = Insertable<GeneratedAssetsTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;

/** A resumable (tus) upload (migration 0008): its bytes are on the gateway's spool until a submission uses it. */
export interface UploadsTable {
  /** The tus upload id, the last segment of its Location. */
  id: string;
  ownerId: string;
  /** As the client declared them in Upload-Metadata; the kind that counts is the one its bytes show. */
  filename: string;
  filetype: string;
  /** Upload-Length. */
  length: ColumnType<number, number, never>;
  /** Set when the finished file has passed the checks (its kind by its first bytes, its size and pixels). */
  resourceType: MediaType | null;
  format: string | null;
  bytes: ColumnType<number | null, never, number>;
  width: number | null;
  height: number | null;
  completedAt: Date | null;
  /** Taken by a submission: an upload is used once. */
  usedAt: Date | null;
  createdAt: CreatedAt;
  expiresAt: Date;
}

export type UploadRow = Selectable<UploadsTable>;
