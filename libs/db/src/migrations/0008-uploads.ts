import { type Kysely, sql } from 'kysely';

/**
 * Resumable (tus) uploads: who started each, what it declared, what the finished file turned out to be,
 * and whether a submission has used it. The bytes are on the gateway's spool; this row is what makes an
 * upload its uploader's alone and usable once, whichever gateway replica a request reaches.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // To the millisecond, as a JavaScript Date holds them (see 0005).
  const timestamp = sql`timestamptz(3)`;
  await db.schema
    .createTable('uploads')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('ownerId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('filename', 'text', (col) => col.notNull())
    .addColumn('filetype', 'text', (col) => col.notNull())
    .addColumn('length', 'bigint', (col) => col.notNull())
    .addColumn('resourceType', 'text', (col) => col.check(sql`"resourceType" in ('image', 'video')`))
    .addColumn('format', 'text')
    .addColumn('bytes', 'bigint')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('completedAt', timestamp)
    .addColumn('usedAt', timestamp)
    .addColumn('createdAt', timestamp, (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expiresAt', timestamp, (col) => col.notNull())
    .execute();
  // The retention sweep takes the oldest expired first.
  await db.schema.createIndex('uploads_expires_idx').on('uploads').column('expiresAt').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('uploads').execute();
}
