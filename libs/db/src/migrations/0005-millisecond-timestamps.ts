import { type Kysely, sql } from 'kysely';

/**
 * Timestamps that the service reads back and compares again (page cursors, Idempotency-Key claims) are
 * kept to the millisecond, as a JavaScript Date holds them: with PostgreSQL's microseconds a cursor
 * rounded to the millisecond skipped rows made in the same millisecond.
 */
const COLUMNS = [
  ['posts', 'createdAt'],
  ['blogs', 'createdAt'],
  ['idempotency_keys', 'createdAt'],
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const [table, column] of COLUMNS) {
    await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type timestamptz(3)`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, column] of COLUMNS) {
    await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type timestamptz`.execute(db);
  }
}
