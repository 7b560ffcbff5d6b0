import { open, rm, stat } from 'node:fs/promises';
import type { UploadRow, UploadsRepository } from '@mediaflow/db';
import { SNIFF_BYTES } from '@mediaflow/providers';
import { HttpError } from './errors.ts';
import { checkSize, type FileLimits, inspectImage, kindOf, type ResourceType } from './file-checks.ts';
import type { ServiceLog } from './log.ts';
import type { LocalFile } from './media-intake.ts';
import type { SpoolBudget } from './spool-budget.ts';

/** Where the tus server keeps an upload's bytes (http/tus.ts). */
export interface UploadFiles {
  pathOf(id: string): string;
  /** Where a finished image goes without its EXIF (a copy: the upload's own bytes stay as tus counted them). */
  checkedPathOf(id: string): string;
  /** Deletes an upload's bytes and the tus server's record of it; a missing one is no error. */
  remove(id: string): Promise<void>;
}

/** A new upload, as its creation request declares it (tus `Upload-Length` and `Upload-Metadata`). */
export interface NewUploadRequest {
  id: string;
  ownerId: string;
  length: number | undefined;
  filename: string | undefined;
  filetype: string | undefined;
}

/** A finished upload a submission uses, as a local file like a multipart one. */
export interface UploadedFile extends LocalFile {
  uploadId: string;
}

export interface UploadsDeps {
  uploads: Pick<
    UploadsRepository,
    'create' | 'findForOwner' | 'markCompleted' | 'claim' | 'release' | 'delete' | 'findExpired'
  >;
  files: UploadFiles;
  budget: Pick<SpoolBudget, 'hold' | 'free'>;
  limits: FileLimits;
  /** UPLOAD_TTL: an upload not used within this after its creation is deleted. */
  ttlMs: number;
  log: ServiceLog;
}

const BATCH = 100;

/**
 * Resumable uploads (tus, at /api/uploads): who may create, resume and end each, the checks a finished
 * one passes before any submission may use it, and its end — used once by a submission of its owner,
 * terminated, or expired after UPLOAD_TTL. The tus protocol itself is http/tus.ts's.
 */
export class Uploads {
  private readonly deps: UploadsDeps;

  constructor(deps: UploadsDeps) {
    this.deps = deps;
  }

  /** Before an upload is created: what it declares decides its limit, and the spool must have room for it. */
  async create(request: NewUploadRequest): Promise<{ expiresAt: Date }> {
    const { id, ownerId, length, filename, filetype } = request;
    if (!filename || !filetype) {
      throw new HttpError(400, 'invalid_input', 'Upload-Metadata must carry the file\'s "filename" and "filetype"');
    }
    const resourceType = declaredKind(filetype);
    if (length === undefined) throw new HttpError(400, 'invalid_input', 'send Upload-Length: the size must be known');
    checkSize('upload', resourceType, length, this.deps.limits);
    this.deps.budget.hold(id, length);
    const expiresAt = new Date(Date.now() + this.deps.ttlMs);
    try {
      await this.deps.uploads.create({ id, ownerId, filename: filename.slice(0, 200), filetype, length, expiresAt });
    } catch (error) {
      this.deps.budget.free(id);
      throw error;
    }
    return { expiresAt };
  }

  /** Another user's upload, or one that does not exist: not found either way. */
  async assertOwner(id: string, ownerId: string): Promise<UploadRow> {
    const upload = await this.deps.uploads.findForOwner(id, ownerId);
    if (!upload) throw new HttpError(404, 'not_found', `no upload ${id}`);
    return upload;
  }

  /**
   * The last byte has arrived: the file is checked like a multipart one (its kind from its first bytes,
   * which must match the declared type; its size; an image's pixels; EXIF removed, into a copy so that
   * the upload's own bytes and offset stay as tus reported them). One that fails is deleted.
   */
  async finish(id: string, ownerId: string): Promise<void> {
    const upload = await this.assertOwner(id, ownerId);
    try {
      const file = await this.localFile(upload, [declaredKind(upload.filetype)]);
      const bytes = (await stat(file.path)).size;
      checkSize('upload', file.kind.resourceType, bytes, this.deps.limits);
      const stripped =
        file.kind.resourceType === 'image'
          ? await inspectImage(file, this.deps.limits, this.deps.files.checkedPathOf(id))
          : undefined;
      await this.deps.uploads.markCompleted(id, {
        resourceType: file.kind.resourceType,
        format: file.kind.format,
        bytes: stripped ?? bytes,
        width: file.width ?? null,
        height: file.height ?? null,
      });
    } catch (error) {
      // Refused by a check: gone for good. Anything else (the database, say) leaves it for another try.
      if (error instanceof HttpError && error.statusCode < 500) await this.discard(id);
      throw error;
    }
  }

  /**
   * Takes the caller's finished, unused uploads `ids` for a submission, all or none: another user's (or
   * an unknown) id is 404, an unfinished or already used upload 409, and a kind the field does not take
   * 415. Give them back with `release` if the submission is not accepted; `consumed` once it is.
   */
  async claim(ids: string[], ownerId: string, accepts: ResourceType[]): Promise<Map<string, UploadedFile>> {
    const unique = [...new Set(ids)];
    const claimed = await this.deps.uploads.claim(unique, ownerId);
    try {
      if (claimed.length < unique.length) {
        const taken = new Set(claimed.map((upload) => upload.id));
        await this.explainUnclaimable(
          unique.filter((id) => !taken.has(id)),
          ownerId,
        );
      }
      const files = new Map<string, UploadedFile>();
      for (const upload of claimed) {
        const file = await this.localFile(upload, accepts, true);
        files.set(upload.id, { ...file, uploadId: upload.id });
      }
      return files;
    } catch (error) {
      await this.release(claimed.map((upload) => upload.id));
      throw error;
    }
  }

  async release(ids: string[]): Promise<void> {
    await this.deps.uploads.release(ids);
  }

  /** A submission accepted with these uploads has its own copies in the store: their spool files go. */
  async consumed(ids: string[]): Promise<void> {
    for (const id of ids) await this.removeFiles(id);
  }

  /** The client ended an upload (tus termination): the tus server deleted its bytes. */
  async terminated(id: string): Promise<void> {
    await rm(this.deps.files.checkedPathOf(id), { force: true });
    await this.deps.uploads.delete(id);
    this.deps.budget.free(id);
  }

  /**
   * Deletes uploads past UPLOAD_TTL, finished or not, with their files: a used one's went when it was
   * used, unless its gateway stopped between taking it and the submission's answer.
   */
  async expire(now = new Date()): Promise<number> {
    let deleted = 0;
    for (const upload of await this.deps.uploads.findExpired(now, BATCH)) {
      await this.removeFiles(upload.id);
      if (await this.deps.uploads.delete(upload.id)) deleted++;
    }
    return deleted;
  }

  private async discard(id: string): Promise<void> {
    await this.removeFiles(id);
    await this.deps.uploads.delete(id);
  }

  private async removeFiles(id: string): Promise<void> {
    await rm(this.deps.files.checkedPathOf(id), { force: true });
    await this.deps.files.remove(id);
    this.deps.budget.free(id);
  }

  private async explainUnclaimable(ids: string[], ownerId: string): Promise<never> {
    for (const id of ids) {
      const upload = await this.deps.uploads.findForOwner(id, ownerId);
      if (!upload) throw new HttpError(404, 'not_found', `no upload ${id}`);
      if (upload.completedAt === null) throw new HttpError(409, 'conflict', `upload ${id} is not finished yet`);
      throw new HttpError(409, 'conflict', `upload ${id} was already used by a submission`);
    }
    throw new HttpError(409, 'conflict', 'an upload was taken by another submission at the same time');
  }

  /** The upload's bytes on local disk (without EXIF, when it had some and `checked`), of the kind they show. */
  private async localFile(upload: UploadRow, accepts: ResourceType[], checked = false): Promise<LocalFile> {
    const clean = this.deps.files.checkedPathOf(upload.id);
    const path = checked && (await exists(clean)) ? clean : this.deps.files.pathOf(upload.id);
    const head = Buffer.alloc(SNIFF_BYTES);
    const handle = await open(path).catch(() => {
      throw new HttpError(410, 'gone', `upload ${upload.id} is no longer on this server; upload it again`);
    });
    try {
      await handle.read(head, 0, SNIFF_BYTES, 0);
    } finally {
      await handle.close();
    }
    return {
      field: 'upload',
      clientName: upload.filename.replace(/\p{Cc}/gu, ''),
      path,
      kind: kindOf(head, `upload ${upload.id}`, accepts),
      width: upload.width ?? undefined,
      height: upload.height ?? undefined,
    };
  }
}

/** The kind an upload declares (its `filetype`): only images and videos are taken. */
function declaredKind(filetype: string): ResourceType {
  if (/^image\/(jpeg|png|webp|gif)$/i.test(filetype)) return 'image';
  if (/^video\/(mp4|quicktime|webm)$/i.test(filetype)) return 'video';
  throw new HttpError(
    415,
    'unsupported_media_type',
    `filetype "${filetype}" is not taken: send a JPEG, PNG, WebP or GIF image, or an MP4, MOV or WebM video`,
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
