import { type Kysely, sql } from 'kysely';

/**
 * Webhooks: a user's endpoints, told when their jobs end; and the outbox of deliveries to them. A job's
 * deliveries are written in the commit that ends the job (so none is lost to a crash between the two), at
 * most one per webhook, job and event (so none is sent twice), and sent by the notifier from there.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const now = (col: any) => col.notNull().defaultTo(sql`now()`);
  // To the millisecond, as a JavaScript Date holds them (see 0005): the reconciler pages by updatedAt.
  const timestamp = sql`timestamptz(3)`;
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('ownerId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('events', sql`text[]`, (col) => col.notNull())
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('createdAt', timestamp, now)
    .addColumn('deletedAt', timestamp)
    .execute();
  // A job's end looks up its owner's live webhooks; the owner lists them.
  await db.schema
    .createIndex('webhooks_owner_idx')
    .on('webhooks')
    .columns(['ownerId', 'createdAt'])
    .where(sql<boolean>`"deletedAt" is null`)
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('webhookId', 'uuid', (col) => col.notNull().references('webhooks.id'))
    .addColumn('jobId', 'uuid', (col) => col.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('event', 'text', (col) => col.notNull().check(sql`event in ('job.completed', 'job.failed')`))
    .addColumn('status', 'text', (col) =>
      col.notNull().defaultTo('pending').check(sql`status in ('pending', 'delivering', 'delivered', 'failed')`),
    )
    .addColumn('attempt', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('statusCode', 'integer')
    .addColumn('durationMs', 'integer')
    .addColumn('error', 'text')
    .addColumn('createdAt', timestamp, now)
    .addColumn('updatedAt', timestamp, now)
    .addUniqueConstraint('webhook_deliveries_once_key', ['webhookId', 'jobId', 'event'])
    .execute();
  // A webhook's deliveries, newest first; the unique key above serves lookups by webhook as well, but not by time.
  await db.schema
    .createIndex('webhook_deliveries_webhook_created_idx')
    .on('webhook_deliveries')
    .columns(['webhookId', 'createdAt desc', 'id desc'])
    .execute();
  // The deliveries still to send: those of a job that just ended, and those the reconciler looks for.
  await db.schema
    .createIndex('webhook_deliveries_pending_idx')
    .on('webhook_deliveries')
    .columns(['jobId'])
    .where(sql<boolean>`status = 'pending'`)
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_unfinished_idx')
    .on('webhook_deliveries')
    .columns(['updatedAt', 'id'])
    .where(sql<boolean>`status in ('pending', 'delivering')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhooks').execute();
}
