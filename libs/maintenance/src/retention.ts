import type { Dirent } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type {
  FailedSubmission,
  GeneratedAssetsRepository,
  IdempotencyKeysRepository,
  JobsRepository,
} from '@mediaflow/db';
import type { StoredMedia } from '@mediaflow/domain';
import type { Logger } from '@mediaflow/logger';
import { generatedImageMedia, type MediaStore } from '@mediaflow/providers';
import { retentionDeleted, tempAssetsCleaned } from '@mediaflow/telemetry';

// Retention: the one place that deletes what the service no longer needs. Each function answers how many
// things it deleted and counts them in mediaflow_retention_deleted_total{kind} (expired generated assets
// keep their own mediaflow_temp_assets_cleaned_total).

/** Rows or jobs per statement: a large backlog is deleted in many short transactions, not one long one. */
const BATCH = 100;
/** Idempotency keys are small rows. */
const KEYS_BATCH = 1000;

/**
 * `job_inputs`: the files (reference images, up to 20 MB each) of every job that has ended, completed or
 * failed. A failed generation that needed one cannot run again (requeueJob refuses it).
 */
export async function deleteEndedJobInputs(deps: {
  jobs: Pick<JobsRepository, 'deleteEndedJobInputs'>;
}): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = await deps.jobs.deleteEndedJobInputs(BATCH);
    deleted += batch;
    retentionDeleted.inc({ kind: 'job_inputs' }, batch);
    if (batch < BATCH) return deleted;
  }
}

/** `idempotency_keys`: keys past their lifetime (24 h), whose answers are no longer replayed. */
export async function deleteExpiredIdempotencyKeys(deps: {
  keys: Pick<IdempotencyKeysRepository, 'deleteExpired'>;
}): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = await deps.keys.deleteExpired(KEYS_BATCH);
    deleted += batch;
    retentionDeleted.inc({ kind: 'idempotency_keys' }, batch);
    if (batch < KEYS_BATCH) return deleted;
  }
}

/**
 * `upload_objects`: the files a post or blog submission put in a store's uploads/ folder, once the job has
 * failed and `ttlMs` has passed since. Those of its completed promote-media steps were moved already and
 * are left alone; the job is then marked so that it is not visited again. A job whose deletes fail (its
 * store is down) stays unmarked and is tried again next round; a job run again (no longer failed) is no
 * longer a candidate.
 *
 * The one gap: a gateway killed between uploading a submission's file and inserting its job leaves an
 * object in uploads/ that no job names, and so that this never deletes.
 */
export async function deleteFailedSubmissionUploads(
  deps: {
    jobs: Pick<JobsRepository, 'findFailedSubmissions' | 'markStagedUploadsCleaned'>;
    store: Pick<MediaStore, 'delete'>;
    logger: Logger;
  },
  ttlMs: number,
): Promise<number> {
  const before = new Date(Date.now() - ttlMs);
  let deleted = 0;
  let after: string | undefined;
  for (;;) {
    const page = await deps.jobs.findFailedSubmissions(before, BATCH, after);
    for (const job of page) {
      const staged = stagedUploads(job);
      try {
        // A file already gone counts as deleted: every store's delete answers so.
        for (const source of staged) await deps.store.delete(source);
      } catch (err) {
        deps.logger.warn(
          { err, jobId: job.id },
          'could not delete the uploads of a failed submission; next round retries',
        );
        continue;
      }
      deleted += staged.length;
      retentionDeleted.inc({ kind: 'upload_objects' }, staged.length);
      await deps.jobs.markStagedUploadsCleaned(job.id);
    }
    if (page.length < BATCH) return deleted;
    after = page.at(-1)?.id;
  }
}

/**
 * The files the gateway uploaded to the uploads/ folder for a submission (moved, not copied, and not a
 * generated asset, which the expired-assets cleanup looks after) whose promotion did not complete.
 */
function stagedUploads(job: FailedSubmission): StoredMedia[] {
  const completed = new Set(job.completedSteps);
  return job.first.flatMap((request) =>
    request.name === 'promote-media' &&
    !request.payload.copy &&
    request.payload.assetId === undefined &&
    !completed.has(request.payload.step)
      ? [request.payload.source]
      : [],
  );
}

/**
 * `spool_files`: regular files directly in `dir` last written more than `olderThanMs` ago (the gateway
 * passes its request spool and the longest a request may take). Subfolders belong to others and are not
 * entered; a missing `dir` has nothing to delete.
 */
export async function sweepSpool(options: { dir: string; olderThanMs: number }): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await readdir(options.dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  const before = Date.now() - options.olderThanMs;
  let deleted = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(options.dir, entry.name);
    try {
      if ((await lstat(file)).mtimeMs >= before) continue;
      await unlink(file);
      deleted++;
    } catch (error) {
      // Deleted meanwhile, by the request that wrote it.
      if (!isMissing(error)) throw error;
    }
  }
  retentionDeleted.inc({ kind: 'spool_files' }, deleted);
  return deleted;
}

/**
 * `uploads`: resumable uploads past UPLOAD_TTL, finished or not (`expire`: their spool files and rows),
 * then anything the tus server keeps that no row names any more (`deleteExpired`). Each gateway runs it,
 * since its spool holds them.
 */
export async function deleteExpiredUploads(deps: {
  uploads: { expire(): Promise<number> };
  tus: { deleteExpired(): Promise<number> };
}): Promise<number> {
  const deleted = (await deps.uploads.expire()) + (await deps.tus.deleteExpired());
  retentionDeleted.inc({ kind: 'uploads' }, deleted);
  return deleted;
}

/** Deletes generated images nobody promoted within TEMP_ASSET_TTL from their store, and marks them deleted. */
export async function cleanUpExpiredAssets(deps: {
  assets: GeneratedAssetsRepository;
  store: MediaStore;
}): Promise<number> {
  let deleted = 0;
  for (const asset of await deps.assets.findExpired(new Date(), BATCH)) {
    await deps.store.delete(generatedImageMedia(asset));
    if (await deps.assets.markDeleted(asset.id)) {
      deleted++;
      tempAssetsCleaned.inc({ provider: asset.provider });
    }
  }
  return deleted;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}
