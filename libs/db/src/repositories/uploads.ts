import type { Db } from '../client.ts';
import type { MediaType, UploadRow } from '../schema.ts';

export interface NewUpload {
  id: string;
  ownerId: string;
  filename: string;
  filetype: string;
  length: number;
  expiresAt: Date;
}

/** What the checks found the finished file to be. */
export interface CheckedUpload {
  resourceType: MediaType;
  format: string;
  bytes: number;
  width: number | null;
  height: number | null;
}

/** Resumable uploads: their owner, their checked kind, and the one submission that may use each. */
export class UploadsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async create(upload: NewUpload): Promise<void> {
    await this.db.insertInto('uploads').values(upload).execute();
  }

  /** The caller's own upload; another user's is not found. */
  async findForOwner(id: string, ownerId: string): Promise<UploadRow | undefined> {
    return this.db
      .selectFrom('uploads')
      .selectAll()
      .where('id', '=', id)
      .where('ownerId', '=', ownerId)
      .executeTakeFirst();
  }

  async markCompleted(id: string, checked: CheckedUpload): Promise<void> {
    await this.db
      .updateTable('uploads')
      .set({ ...checked, completedAt: new Date() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Takes the caller's finished, unused uploads among `ids` for a submission, in one statement so that two
   * submissions naming the same upload cannot both have it. Returns those taken; the caller gives them
   * back (`release`) if the submission is not accepted after all.
   */
  async claim(ids: string[], ownerId: string): Promise<UploadRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .updateTable('uploads')
      .set({ usedAt: new Date() })
      .where('id', 'in', ids)
      .where('ownerId', '=', ownerId)
      .where('completedAt', 'is not', null)
      .where('usedAt', 'is', null)
      .returningAll()
      .execute();
  }

  async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('uploads').set({ usedAt: null }).where('id', 'in', ids).execute();
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.db.deleteFrom('uploads').where('id', '=', id).executeTakeFirst();
    return deleted.numDeletedRows > 0n;
  }

  /** Uploads past their expiry, used or not: the retention sweep deletes their files and rows. */
  async findExpired(now: Date, limit: number): Promise<UploadRow[]> {
    return this.db
      .selectFrom('uploads')
      .selectAll()
      .where('expiresAt', '<', now)
      .orderBy('expiresAt')
      .limit(limit)
      .execute();
  }
}
