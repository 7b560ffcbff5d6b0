/**
 * In-memory stand-ins for what the services depend on, for their unit tests: no PostgreSQL, no Redis,
 * no store. Each keeps what was done to it, for the tests to look at.
 */

import {
  type GeneratedAssetRow,
  type IdempotencyClaim,
  IdempotencyKeyTaken,
  type IdempotentAnswer,
  InFlightCapReached,
  type JobsRepository,
  type NewJobRecord,
} from '@mediaflow/db';
import type { JobKind, StoredMedia } from '@mediaflow/domain';
import type { UploadRequest } from '@mediaflow/providers';
import type { QueueRepository } from '@mediaflow/queue';
import { HttpError } from './errors.ts';
import type { ResourceType } from './file-checks.ts';
import type { IdempotencyKeys } from './idempotency.ts';
import type { LocalFile } from './media-intake.ts';
import type { UploadedFile } from './uploads.ts';

/** Idempotency keys as the repository keeps them: claimed with a request's hash, then answered. */
export class FakeIdempotencyKeys implements IdempotencyKeys {
  readonly keys = new Map<string, { requestHash: string; status: number | null; response: unknown }>();
  completed: IdempotentAnswer[] = [];
  released: string[] = [];

  async claim(userId: string, key: string, requestHash: string): Promise<IdempotencyClaim> {
    const existing = this.keys.get(`${userId}/${key}`);
    if (!existing) {
      this.keys.set(`${userId}/${key}`, { requestHash, status: null, response: null });
      return { kind: 'claimed' };
    }
    if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
    if (existing.status === null) return { kind: 'in-progress' };
    return { kind: 'replay', status: existing.status, response: existing.response };
  }

  async complete(answer: IdempotentAnswer): Promise<void> {
    this.completed.push(answer);
    this.record(answer);
  }

  async release(userId: string, key: string): Promise<void> {
    this.released.push(`${userId}/${key}`);
    this.keys.delete(`${userId}/${key}`);
  }

  /**
   * Writes an answer as the commit of the work it answers does (not counted in `completed`); with a
   * `requestHash`, claims the key too, or throws IdempotencyKeyTaken if it is there.
   */
  record(answer: IdempotentAnswer): void {
    const id = `${answer.userId}/${answer.key}`;
    if (answer.requestHash !== undefined) {
      if (this.keys.has(id)) throw new IdempotencyKeyTaken(answer.userId, answer.key);
      this.keys.set(id, { requestHash: answer.requestHash, status: answer.status, response: answer.response });
      return;
    }
    const claimed = this.keys.get(id);
    if (claimed) Object.assign(claimed, { status: answer.status, response: answer.response });
  }
}

/**
 * Job rows, all of them unfinished: `create` writes the answer it is given under its key, as the real one
 * does in its commit, and refuses a job over its `inFlightCap` as the real one does, writing nothing.
 */
export class FakeJobs implements Pick<JobsRepository, 'create' | 'delete' | 'countUnfinished'> {
  readonly rows = new Map<string, NewJobRecord>();
  readonly answers: IdempotentAnswer[] = [];
  private readonly keys: FakeIdempotencyKeys | undefined;

  constructor(keys?: FakeIdempotencyKeys) {
    this.keys = keys;
  }

  async create(job: NewJobRecord, answer?: IdempotentAnswer): Promise<void> {
    if (job.inFlightCap !== undefined && this.unfinished(job.ownerId, job.kind) >= job.inFlightCap) {
      throw new InFlightCapReached(job.ownerId, job.kind, job.inFlightCap);
    }
    // The answer first: a key found there leaves nothing written, as the real commit does.
    if (answer) {
      this.keys?.record(answer);
      this.answers.push(answer);
    }
    this.rows.set(job.id, job);
  }

  async delete(id: string, answer?: Pick<IdempotentAnswer, 'userId' | 'key'>): Promise<void> {
    this.rows.delete(id);
    if (answer) this.keys?.keys.delete(`${answer.userId}/${answer.key}`);
  }

  async countUnfinished(ownerId: string, kind: JobKind): Promise<number> {
    return this.unfinished(ownerId, kind);
  }

  private unfinished(ownerId: string, kind: JobKind): number {
    return [...this.rows.values()].filter((row) => row.ownerId === ownerId && row.kind === kind).length;
  }

  /** The only row, for tests that accept one job. */
  only(): NewJobRecord {
    const rows = [...this.rows.values()];
    if (rows.length !== 1) throw new Error(`expected one job row, found ${rows.length}`);
    return rows[0] as NewJobRecord;
  }
}

/** The queues: plans enqueued, or the error every enqueue fails with. */
export class FakeQueues implements Pick<QueueRepository, 'enqueue'> {
  readonly enqueued: Parameters<QueueRepository['enqueue']>[0][] = [];
  failWith: Error | undefined;

  async enqueue(plan: Parameters<QueueRepository['enqueue']>[0]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.enqueued.push(plan);
  }
}

/** A media store: what is in it now, by provider id; `failOn` makes uploads of those local paths fail. */
export class FakeStore {
  readonly stored = new Map<string, { from: string; media: StoredMedia }>();
  readonly deleted: string[] = [];
  readonly failOn = new Set<string>();
  private count = 0;

  async upload(request: UploadRequest): Promise<StoredMedia> {
    const from = Buffer.isBuffer(request.source) ? 'buffer' : request.source.path;
    if (this.failOn.has(from)) throw new Error(`the store refused ${from}`);
    this.count += 1;
    const media: StoredMedia = {
      provider: 'local',
      providerId: `${request.folder}/${request.publicId}-${this.count}.${request.format}`,
      url: `http://store.test/${request.folder}/${request.publicId}-${this.count}.${request.format}`,
      bytes: 100,
      resourceType: request.resourceType,
      format: request.format,
    };
    this.stored.set(media.providerId, { from, media });
    return media;
  }

  async delete(media: StoredMedia): Promise<void> {
    this.deleted.push(media.providerId);
    this.stored.delete(media.providerId);
  }

  /** Where a stored file came from: the local path it was uploaded from. */
  sourceOf(media: StoredMedia): string | undefined {
    return this.stored.get(media.providerId)?.from;
  }
}

/** Generated assets, by id, each with its owner. */
export class FakeAssets {
  readonly rows = new Map<string, GeneratedAssetRow>();

  add(id: string, ownerId: string, options: { promoted?: boolean } = {}): GeneratedAssetRow {
    const now = new Date();
    const row: GeneratedAssetRow = {
      id,
      ownerId,
      jobId: `job-of-${id}`,
      prompt: 'a lighthouse',
      enhancedPrompt: 'a lighthouse at dusk',
      model: 'local',
      aspectRatio: '1:1',
      referenceSha256: null,
      provider: 'local',
      providerId: `ai-generated-images/${id}.jpg`,
      url: `http://store.test/ai-generated-images/${id}.jpg`,
      width: 64,
      height: 64,
      bytes: 2000,
      format: 'jpg',
      temporary: !options.promoted,
      expiresAt: null,
      promotedAt: options.promoted ? now : null,
      deletedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    this.rows.set(id, row);
    return row;
  }

  async findForOwner(id: string, ownerId: string): Promise<GeneratedAssetRow | undefined> {
    const row = this.rows.get(id);
    return row?.ownerId === ownerId ? row : undefined;
  }
}

/** Brand memberships. */
export class FakeBrands {
  private readonly members = new Set<string>();

  join(brandId: string, userId: string): void {
    this.members.add(`${brandId}/${userId}`);
  }

  async isMember(brandId: string, userId: string): Promise<boolean> {
    return this.members.has(`${brandId}/${userId}`);
  }
}

/** Finished resumable uploads, as Uploads hands them to a submission: taken, given back, used. */
export class FakeUploads {
  readonly files = new Map<string, { ownerId: string; file: UploadedFile }>();
  readonly taken = new Set<string>();
  readonly released: string[] = [];
  readonly consumedIds: string[] = [];

  add(id: string, ownerId: string, file: LocalFile): void {
    this.files.set(id, { ownerId, file: { ...file, uploadId: id } });
  }

  async claim(ids: string[], ownerId: string, accepts: ResourceType[]): Promise<Map<string, UploadedFile>> {
    const claimed = new Map<string, UploadedFile>();
    for (const id of ids) {
      const upload = this.files.get(id);
      if (!upload || upload.ownerId !== ownerId) throw new HttpError(404, 'not_found', `no upload ${id}`);
      if (!accepts.includes(upload.file.kind.resourceType))
        throw new HttpError(415, 'unsupported_media_type', `upload ${id} is not of a kind this field takes`);
      if (this.taken.has(id)) throw new HttpError(409, 'conflict', `upload ${id} was already used by a submission`);
      claimed.set(id, upload.file);
    }
    for (const id of claimed.keys()) this.taken.add(id);
    return claimed;
  }

  async release(ids: string[]): Promise<void> {
    for (const id of ids) this.taken.delete(id);
    this.released.push(...ids);
  }

  async consumed(ids: string[]): Promise<void> {
    this.consumedIds.push(...ids);
  }
}

/** A checked file on local disk, as the multipart intake leaves it. */
export function localFile(field: string, clientName: string, kind: 'png' | 'mp4' = 'png'): LocalFile {
  return {
    field,
    clientName,
    path: `/spool/${clientName}`,
    kind:
      kind === 'png'
        ? { resourceType: 'image', format: 'png', mimeType: 'image/png' }
        : { resourceType: 'video', format: 'mp4', mimeType: 'video/mp4' },
    ...(kind === 'png' ? { width: 40, height: 30 } : {}),
  };
}

let eventsTokensIssued = 0;
/** The eventsUrl of an accepted job, as EventsTokens makes them: each with a token of its own. */
export async function fakeEventsUrl(ownerId: string, jobId: string): Promise<string> {
  eventsTokensIssued += 1;
  return `/api/jobs/${jobId}/events?token=${ownerId}.${eventsTokensIssued}`;
}
