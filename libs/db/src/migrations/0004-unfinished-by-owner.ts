import { type Kysely, sql } from 'kysely';

/**
 * The in-flight cap counts one user's unfinished jobs of a kind on every generation request: without
 * this index that count read every unfinished job of every user, so it slowed as the backlog grew.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('jobs_unfinished_owner_kind_idx')
    .on('jobs')
    .columns(['ownerId', 'kind'])
    .where(sql<boolean>`status in ('queued', 'active')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_unfinished_owner_kind_idx').execute();
}
