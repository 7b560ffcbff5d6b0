import type {
  AttemptCount,
  DeliverWebhookResult,
  JobCompletion,
  JobErrorRecord,
  JobRef,
  JobStartOutcome,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '@mediaflow/domain';
import { type QueryCreator, sql } from 'kysely';
import { type Db, pingDatabase } from '../client.ts';
import type { Database } from '../schema.ts';

/** A webhook as its owner sees it: never its secret, which is shown once, when it is registered. */
export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEvent[];
  createdAt: Date;
}

export interface NewWebhook {
  ownerId: string;
  url: string;
  events: WebhookEvent[];
  secret: string;
}

/** A delivery as the webhook's owner sees it: the last attempt's outcome. */
export interface WebhookDeliveryView {
  id: string;
  event: WebhookEvent;
  jobId: string;
  status: WebhookDeliveryStatus;
  attempt: number;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  createdAt: Date;
}

/** What the notifier needs to send a delivery: the delivery and its webhook, secret included. */
export interface DeliveryToSend {
  id: string;
  jobId: string;
  event: WebhookEvent;
  status: WebhookDeliveryStatus;
  attempt: number;
  createdAt: Date;
  webhook: { id: string; ownerId: string; url: string; secret: string; deletedAt: Date | null };
}

/**
 * The outbox write, for the transaction that ends a job: one pending delivery of `event` for each live
 * webhook of the job's owner that asked for it. A webhook already told of this event of this job (a job
 * failed twice, e.g. after an admin's retry) gets no second one.
 */
export function insertDeliveries(db: QueryCreator<Database>, jobId: string, event: WebhookEvent) {
  return db
    .insertInto('webhook_deliveries')
    .columns(['webhookId', 'jobId', 'event'])
    .expression(
      sql`select webhooks.id, jobs.id, ${event}
        from jobs join webhooks on webhooks."ownerId" = jobs."ownerId"
        where jobs.id = ${jobId} and webhooks."deletedAt" is null and ${event} = any(webhooks.events)`,
    )
    .onConflict((conflict) => conflict.doNothing());
}

/** Webhooks (a user's endpoints) and their deliveries. */
export class WebhooksRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async create(webhook: NewWebhook): Promise<WebhookView> {
    return this.db
      .insertInto('webhooks')
      .values(webhook)
      .returning(['id', 'url', 'events', 'createdAt'])
      .executeTakeFirstOrThrow();
  }

  /** The user's webhooks, oldest first; deleted ones are gone. */
  async listForOwner(ownerId: string): Promise<WebhookView[]> {
    return this.db
      .selectFrom('webhooks')
      .select(['id', 'url', 'events', 'createdAt'])
      .where('ownerId', '=', ownerId)
      .where('deletedAt', 'is', null)
      .orderBy('createdAt')
      .orderBy('id')
      .execute();
  }

  /** Deletes the user's webhook (its record stays, for its deliveries); false when they have no such webhook. */
  async deleteForOwner(id: string, ownerId: string): Promise<boolean> {
    const deleted = await this.db
      .updateTable('webhooks')
      .set({ deletedAt: new Date() })
      .where('id', '=', id)
      .where('ownerId', '=', ownerId)
      .where('deletedAt', 'is', null)
      .executeTakeFirst();
    return deleted.numUpdatedRows > 0n;
  }

  /**
   * The last `limit` deliveries of the user's webhook, newest first; undefined when the user has no such
   * webhook (or deleted it).
   */
  async deliveriesForOwner(id: string, ownerId: string, limit: number): Promise<WebhookDeliveryView[] | undefined> {
    const webhook = await this.db
      .selectFrom('webhooks')
      .select('id')
      .where('id', '=', id)
      .where('ownerId', '=', ownerId)
      .where('deletedAt', 'is', null)
      .executeTakeFirst();
    if (!webhook) return undefined;
    return this.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'event', 'jobId', 'status', 'attempt', 'statusCode', 'durationMs', 'error', 'createdAt'])
      .where('webhookId', '=', id)
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  /** A delivery with its webhook, for the notifier to send. */
  async findDelivery(id: string): Promise<DeliveryToSend | undefined> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhookId')
      .select([
        'webhook_deliveries.id',
        'webhook_deliveries.jobId',
        'webhook_deliveries.event',
        'webhook_deliveries.status',
        'webhook_deliveries.attempt',
        'webhook_deliveries.createdAt',
        'webhooks.id as webhookId',
        'webhooks.ownerId',
        'webhooks.url',
        'webhooks.secret',
        'webhooks.deletedAt',
      ])
      .where('webhook_deliveries.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const { webhookId, ownerId, url, secret, deletedAt, ...delivery } = row;
    return { ...delivery, webhook: { id: webhookId, ownerId, url, secret, deletedAt } };
  }

  /**
   * Deliveries not yet sent (pending, or delivering when a worker died) and untouched since `before`, oldest
   * first, `limit` at most, after the one given (`after`, to page through them): for the reconciler, which
   * checks that the queue still holds them.
   */
  async unfinishedBefore(
    before: Date,
    limit: number,
    after?: { updatedAt: Date; id: string },
  ): Promise<Array<{ id: string; updatedAt: Date }>> {
    let query = this.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'updatedAt'])
      .where('status', 'in', ['pending', 'delivering'])
      .where('updatedAt', '<', before);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('updatedAt', '>', after.updatedAt),
          eb.and([eb('updatedAt', '=', after.updatedAt), eb('id', '>', after.id)]),
        ]),
      );
    }
    return query.orderBy('updatedAt').orderBy('id').limit(limit).execute();
  }

  /** What the receiver answered an attempt (no status code when it never answered), and how long it took. */
  /**
   * A failed attempt's answer (no status code when there was none) with what was wrong, in one statement:
   * the deliveries list never shows an attempt's status code without its error.
   */
  async recordResponse(
    id: string,
    response: { statusCode: number | null; durationMs: number; error: string },
  ): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        statusCode: response.statusCode,
        durationMs: response.durationMs,
        error: response.error,
        updatedAt: new Date(),
      })
      .where('id', '=', id)
      .execute();
  }
}

/**
 * The worker runtime's record of a deliver-webhook job's attempts (a JobStateRecorder): the delivery row,
 * whose id is the job's `jobId`. Attempts are counted there, and the outcome of each kept there for the
 * webhook's owner to read.
 */
export class WebhookDeliveryRecorder {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** `started` (delivering, one more attempt); `completed` when already delivered; `ended` when failed or gone. */
  async markActive(ref: JobRef): Promise<JobStartOutcome> {
    const started = await this.db
      .updateTable('webhook_deliveries')
      .set((eb) => ({ status: 'delivering', attempt: eb('attempt', '+', 1), updatedAt: new Date() }))
      .where('id', '=', ref.jobId)
      .where('status', 'in', ['pending', 'delivering'])
      .executeTakeFirst();
    if (started.numUpdatedRows > 0n) return 'started';
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .select('status')
      .where('id', '=', ref.jobId)
      .executeTakeFirst();
    return row?.status === 'delivered' ? 'completed' : 'ended';
  }

  /** A delivery is a job of its own, and its end writes no delivery. */
  async markCompleted(ref: JobRef, result: DeliverWebhookResult): Promise<JobCompletion> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: 'delivered',
        statusCode: result.statusCode,
        durationMs: result.durationMs,
        error: null,
        updatedAt: new Date(),
      })
      .where('id', '=', ref.jobId)
      .execute();
    return { jobCompleted: true, deliveries: [] };
  }

  async markRetrying(ref: JobRef, error: JobErrorRecord, options?: AttemptCount): Promise<void> {
    await this.setStatus(ref, 'pending', error.message, options?.countAttempt ?? false);
  }

  async markFailed(ref: JobRef, error: JobErrorRecord, options?: AttemptCount): Promise<string[]> {
    await this.setStatus(ref, 'failed', error.message, options?.countAttempt ?? false);
    return [];
  }

  /** Back to pending (its attempt taken back when `uncount`), unless it has moved since `since`. */
  async markWaiting(ref: JobRef, note: JobErrorRecord, options: { since: Date; uncount: boolean }): Promise<void> {
    const uncount = options.uncount ? 1 : 0;
    await this.db
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        status: 'pending',
        error: note.message,
        attempt: eb('attempt', '-', uncount),
        updatedAt: new Date(),
      }))
      .where('id', '=', ref.jobId)
      .where('status', 'in', ['pending', 'delivering'])
      .where('updatedAt', '<=', options.since)
      .execute();
  }

  async ping(): Promise<void> {
    await pingDatabase(this.db);
  }

  private async setStatus(
    ref: JobRef,
    status: WebhookDeliveryStatus,
    error: string,
    countAttempt: boolean,
  ): Promise<void> {
    const count = countAttempt ? 1 : 0;
    await this.db
      .updateTable('webhook_deliveries')
      .set((eb) => ({ status, error, attempt: eb('attempt', '+', count), updatedAt: new Date() }))
      .where('id', '=', ref.jobId)
      .execute();
  }
}
