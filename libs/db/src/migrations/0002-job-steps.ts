import { type Kysely, sql } from 'kysely';

/** A submission's chain of work (each media item's promotion, then the write), one row a step. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_steps')
    .addColumn('jobId', 'uuid', (col) => col.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('step', 'integer', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('label', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) =>
      col.notNull().defaultTo('queued').check(sql`state in ('queued', 'active', 'completed', 'failed')`),
    )
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('result', 'jsonb')
    .addColumn('error', 'jsonb')
    .addColumn('updatedAt', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('job_steps_pkey', ['jobId', 'step'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_steps').execute();
}
