import { type Kysely, sql } from 'kysely';

/**
 * The in-flight cap, enforced by the database: a job accepted under a cap (`JobsRepository.create` with
 * `inFlightCap`) holds one numbered slot of its owner's, per kind, for as long as it is queued or
 * active. The unique partial index lets no two unfinished jobs hold the same slot, so requests that race
 * for the last one cannot all pass; a job that ends leaves the index, which frees its slot.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('inFlightSlot', 'smallint').execute();
  // Generations already in flight take the slots they would have had, so the cap holds from now on.
  await sql`
    update jobs set "inFlightSlot" = ranked.slot
    from (
      select id, row_number() over (partition by "ownerId", kind order by "createdAt", id) - 1 as slot
      from jobs
      where kind = 'generate-image' and status in ('queued', 'active')
    ) ranked
    where jobs.id = ranked.id and ranked.slot <= 32767`.execute(db);
  await db.schema
    .createIndex('jobs_in_flight_slot_idx')
    .on('jobs')
    .columns(['ownerId', 'kind', 'inFlightSlot'])
    .unique()
    .where(sql<boolean>`status in ('queued', 'active') and "inFlightSlot" is not null`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_in_flight_slot_idx').execute();
  await db.schema.alterTable('jobs').dropColumn('inFlightSlot').execute();
}
