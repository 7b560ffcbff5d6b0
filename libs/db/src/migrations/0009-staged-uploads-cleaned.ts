import { type Kysely, sql } from 'kysely';

/**
 * When retention deleted the files a failed submission had staged in a store's uploads/ folder: a job
 * cleaned once is not visited again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('stagedUploadsCleanedAt', sql`timestamptz(3)`).execute();
  // Retention's lookup: failed submissions not yet cleaned, by when they failed. It stays small, as
  // each one leaves it once cleaned.
  await db.schema
    .createIndex('jobs_staged_uploads_idx')
    .on('jobs')
    .column('finishedAt')
    .where(
      sql<boolean>`status = 'failed' and kind in ('submit-post', 'submit-blog') and "stagedUploadsCleanedAt" is null`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_staged_uploads_idx').execute();
  await db.schema.alterTable('jobs').dropColumn('stagedUploadsCleanedAt').execute();
}
