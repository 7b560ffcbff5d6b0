import { type Kysely, sql } from 'kysely';

// Migrations take Kysely<any>: they describe the schema as it was then, not as schema.ts says it is now.
export async function up(db: Kysely<any>): Promise<void> {
  const id = (col: any) => col.primaryKey().defaultTo(sql`gen_random_uuid()`);
  const now = (col: any) => col.notNull().defaultTo(sql`now()`);

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('createdAt', 'timestamptz', now)
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'uuid', id)
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('ownerId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('status', 'text', (col) =>
      col.notNull().defaultTo('queued').check(sql`status in ('queued', 'active', 'completed', 'failed')`),
    )
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('result', 'jsonb')
    .addColumn('error', 'jsonb')
    .addColumn('createdAt', 'timestamptz', now)
    .addColumn('updatedAt', 'timestamptz', now)
    .addColumn('finishedAt', 'timestamptz')
    .execute();
  await db.schema.createIndex('jobs_owner_created_idx').on('jobs').columns(['ownerId', 'createdAt']).execute();
  // A reconciler looks for accepted work that has not ended; keep that lookup small.
  await db.schema
    .createIndex('jobs_unfinished_idx')
    .on('jobs')
    .column('createdAt')
    .where(sql<boolean>`status in ('queued', 'active')`)
    .execute();

  await db.schema
    .createTable('job_inputs')
    .addColumn('jobId', 'uuid', (col) => col.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('contentType', 'text', (col) => col.notNull())
    .addColumn('sha256', 'text', (col) => col.notNull())
    .addColumn('data', 'bytea', (col) => col.notNull())
    .addColumn('createdAt', 'timestamptz', now)
    .addPrimaryKeyConstraint('job_inputs_pkey', ['jobId', 'name'])
    .execute();

  await db.schema
    .createTable('brands')
    .addColumn('id', 'uuid', id)
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('createdBy', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('createdAt', 'timestamptz', now)
    .addColumn('updatedAt', 'timestamptz', now)
    .execute();

  await db.schema
    .createTable('brand_members')
    .addColumn('brandId', 'uuid', (col) => col.notNull().references('brands.id').onDelete('cascade'))
    .addColumn('userId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('createdAt', 'timestamptz', now)
    .addPrimaryKeyConstraint('brand_members_pkey', ['brandId', 'userId'])
    .execute();
  await db.schema.createIndex('brand_members_user_idx').on('brand_members').column('userId').execute();

  await db.schema
    .createTable('posts')
    .addColumn('id', 'uuid', id)
    .addColumn('brandId', 'uuid', (col) => col.notNull().references('brands.id'))
    .addColumn('authorId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('caption', 'text', (col) => col.notNull())
    .addColumn('scheduledAt', 'timestamptz')
    .addColumn('jobId', 'uuid', (col) => col.notNull().unique().references('jobs.id'))
    .addColumn('createdAt', 'timestamptz', now)
    .addColumn('updatedAt', 'timestamptz', now)
    .execute();
  await db.schema
    .createIndex('posts_brand_created_idx')
    .on('posts')
    .columns(['brandId', 'createdAt desc', 'id desc'])
    .execute();

  await db.schema
    .createTable('media')
    .addColumn('id', 'uuid', id)
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull().check(sql`type in ('image', 'video')`))
    .addColumn('postId', 'uuid', (col) => col.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('brandId', 'uuid', (col) => col.notNull().references('brands.id'))
    .addColumn('userId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('providerId', 'text', (col) => col.notNull())
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('bytes', 'bigint', (col) => col.notNull())
    .addColumn('duration', 'double precision')
    .addColumn('createdAt', 'timestamptz', now)
    .addColumn('updatedAt', 'timestamptz', now)
    .addUniqueConstraint('media_post_position_key', ['postId', 'position'])
    .execute();

  await db.schema
    .createTable('blogs')
    .addColumn('id', 'uuid', id)
    .addColumn('banner', 'text')
    .addColumn('image', 'text')
    .addColumn('imageAlt', 'text')
    .addColumn('title', 'text', (col) => col.notNull())
    .addColumn('content', 'text', (col) => col.notNull())
    .addColumn('authorId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('jobId', 'uuid', (col) => col.notNull().unique().references('jobs.id'))
    .addColumn('createdAt', 'timestamptz', now)
    .execute();
  await db.schema
    .createIndex('blogs_author_created_idx')
    .on('blogs')
    .columns(['authorId', 'createdAt desc', 'id desc'])
    .execute();

  await db.schema
    .createTable('generated_assets')
    .addColumn('id', 'uuid', id)
    .addColumn('ownerId', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('jobId', 'uuid', (col) => col.notNull().unique().references('jobs.id'))
    .addColumn('prompt', 'text', (col) => col.notNull())
    .addColumn('enhancedPrompt', 'text', (col) => col.notNull())
    .addColumn('model', 'text', (col) => col.notNull())
    .addColumn('aspectRatio', 'text', (col) => col.notNull())
    .addColumn('referenceSha256', 'text')
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('providerId', 'text', (col) => col.notNull())
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('width', 'integer', (col) => col.notNull())
    .addColumn('height', 'integer', (col) => col.notNull())
    .addColumn('bytes', 'integer', (col) => col.notNull())
    .addColumn('format', 'text', (col) => col.notNull())
    .addColumn('temporary', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('expiresAt', 'timestamptz')
    .addColumn('promotedAt', 'timestamptz')
    .addColumn('deletedAt', 'timestamptz')
    .addColumn('createdAt', 'timestamptz', now)
    .addColumn('updatedAt', 'timestamptz', now)
    .execute();
  await db.schema
    .createIndex('generated_assets_owner_created_idx')
    .on('generated_assets')
    .columns(['ownerId', 'createdAt'])
    .execute();
  // The cleanup of expired temporary assets scans only these.
  await db.schema
    .createIndex('generated_assets_expiring_idx')
    .on('generated_assets')
    .column('expiresAt')
    .where(sql<boolean>`temporary and "deletedAt" is null`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'generated_assets',
    'blogs',
    'media',
    'posts',
    'brand_members',
    'brands',
    'job_inputs',
    'jobs',
    'users',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
