import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import { type MediaKind, SNIFF_BYTES, sniffMediaKind } from '@mediaflow/providers';
import type { FastifyReply, FastifyRequest } from 'fastify';
import sharp, { type Metadata } from 'sharp';
import { HttpError } from '../services/errors.ts';
import type { LocalFile } from '../services/media-intake.ts';

/** A file of the request, on local disk until it is uploaded to temporary storage. */
export interface SpooledFile extends LocalFile {
  bytes: number;
  /** SHA-256 of the bytes as received: part of a request's identity for Idempotency-Key. */
  sha256: string;
}

export interface FormLimits {
  /** Fields that may carry files, and which kinds each accepts. */
  fileFields: Record<string, Array<MediaKind['resourceType']>>;
  /** Fields that may repeat; they always come out as arrays. */
  repeatable: ReadonlySet<string>;
  maxFiles: number;
  maxImageBytes: number;
  maxImagePixels: number;
  maxVideoBytes: number;
  maxFieldBytes: number;
}

/** A file, or a value of a repeatable field, where it came in the form. */
export type FormPart = { field: string; file: SpooledFile } | { field: string; value: string };

export interface ParsedForm {
  fields: Record<string, string | string[]>;
  files: SpooledFile[];
  /** Every file and repeatable field value in the order it came, for submissions that keep order. */
  order: FormPart[];
}

const SPOOL_DIR = path.join(tmpdir(), 'mediaflow-spool');

/** Requests whose response is done with (sent, or its connection closed): their files are removed. */
const answered = new WeakSet<FastifyRequest>();

/**
 * The one multipart intake of the submission routes, as their preValidation hook: refuses anything but
 * multipart/form-data (415), reads the form (`readForm`) and leaves `toBody(form)` as `request.body`, for
 * the route's schema to validate next, and the form itself as `request.form`.
 */
export function multipartBody(limits: FormLimits, toBody: (form: ParsedForm) => unknown) {
  return async function readMultipartBody(request: FastifyRequest): Promise<void> {
    if (!request.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data');
    const form = await readForm(request, limits);
    request.body = toBody(form);
  };
}

/**
 * Reads a multipart submission as it arrives. Each file streams to a spool file on local disk — never
 * whole in memory — while its first bytes decide its kind (415 when it is none of the accepted kinds)
 * and its size is counted against that kind's limit (413). Spool files are deleted when the response
 * is done with, whatever it is and even if the connection went first (`removeSpooled`): the form is on
 * the request from the start, so that files spooled before a later part is refused are deleted too.
 */
async function readForm(request: FastifyRequest, limits: FormLimits): Promise<ParsedForm> {
  const form: ParsedForm = { fields: {}, files: [], order: [] };
  request.form = form;
  await mkdir(SPOOL_DIR, { recursive: true });
  const parts = request.parts({
    limits: {
      files: limits.maxFiles,
      // The per-kind limits are enforced while streaming; this is the backstop.
      fileSize: Math.max(limits.maxImageBytes, limits.maxVideoBytes) + 1,
      fieldSize: limits.maxFieldBytes,
      fields: 50,
      parts: 100,
    },
  });
  try {
    await readParts(parts, form, limits, () => answered.has(request));
  } catch (error) {
    // The parser stops reading when a file is refused; drain what the client still sends, or its
    // connection would stall with the rest of the body unread.
    request.raw.resume();
    throw error;
  }
  return form;
}

async function readParts(
  parts: AsyncIterableIterator<Multipart>,
  form: ParsedForm,
  limits: FormLimits,
  gone: () => boolean,
): Promise<void> {
  for await (const part of parts) {
    if (part.type === 'file') {
      const accepts = limits.fileFields[part.fieldname];
      if (!accepts) {
        part.file.resume();
        throw new HttpError(400, 'invalid_input', `unexpected file field "${part.fieldname}"`);
      }
      const file = await spool(part.file, part.fieldname, part.filename, accepts, limits);
      if (gone()) {
        // The connection closed while this file was being finished: the request's files are gone already.
        await rm(file.path, { force: true });
        throw new HttpError(400, 'invalid_input', 'the connection closed before the request was read');
      }
      form.files.push(file);
      form.order.push({ field: part.fieldname, file });
      continue;
    }
    const value = String(part.value);
    if (part.valueTruncated)
      throw new HttpError(413, 'payload_too_large', `field "${part.fieldname}" is longer than allowed`);
    if (limits.repeatable.has(part.fieldname)) {
      const list = (form.fields[part.fieldname] as string[] | undefined) ?? [];
      form.fields[part.fieldname] = list;
      list.push(value);
      form.order.push({ field: part.fieldname, value });
    } else if (part.fieldname in form.fields) {
      throw new HttpError(400, 'invalid_input', `field "${part.fieldname}" may appear only once`);
    } else {
      form.fields[part.fieldname] = value;
    }
  }
}

/**
 * Removes a request's spool files once its response is done with: sent, or its connection gone first
 * (a client that hung up, or one cut off by REQUEST_TIMEOUT_MS mid-upload), which Fastify's onResponse
 * never hears of. Registered as an onRequest hook of the submission routes.
 */
export async function removeSpooled(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.raw.once('close', () => {
    answered.add(request);
    Promise.all((request.form?.files ?? []).map((file) => rm(file.path, { force: true }))).catch((error: unknown) =>
      request.log.warn({ err: error }, 'could not remove a spooled upload'),
    );
  });
}

async function spool(
  stream: NodeJS.ReadableStream,
  field: string,
  clientName: string,
  accepts: Array<MediaKind['resourceType']>,
  limits: FormLimits,
): Promise<SpooledFile> {
  const file = path.join(SPOOL_DIR, randomUUID());
  const inspector = new Inspector(field, accepts, limits);
  try {
    await pipeline(stream, inspector, createWriteStream(file));
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  const kind = inspector.kind();
  const spooled: SpooledFile = {
    field,
    // Shown in job steps, so kept printable and short; it never names a stored file.
    clientName: clientName.replace(/\p{Cc}/gu, '').slice(0, 200),
    path: file,
    kind,
    bytes: inspector.bytes,
    sha256: inspector.digest(),
  };
  if (kind.resourceType === 'image') {
    try {
      await inspectSpooledImage(spooled, limits);
    } catch (error) {
      await rm(spooled.path, { force: true });
      throw error;
    }
  }
  return spooled;
}

/** Formats whose EXIF is removed by re-encoding (GIF carries none worth the risk to its animation). */
const REENCODABLE = { jpg: 'jpeg', png: 'png', webp: 'webp' } as const;

/**
 * Reads an image's size from its header (so a decompression bomb is refused before it is decoded) and
 * removes EXIF metadata, which can carry the place a photo was taken, before the file goes anywhere.
 */
async function inspectSpooledImage(spooled: SpooledFile, limits: FormLimits): Promise<void> {
  let metadata: Metadata;
  try {
    metadata = await sharp(spooled.path).metadata();
  } catch {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `"${spooled.field}" looks like ${spooled.kind.format} but cannot be read as an image`,
    );
  }
  const { width, height } = metadata.autoOrient;
  if (width * height > limits.maxImagePixels) {
    throw new HttpError(
      413,
      'payload_too_large',
      `"${spooled.field}" is over ${limits.maxImagePixels} pixels; send a smaller image`,
    );
  }
  Object.assign(spooled, { width, height });
  const output = REENCODABLE[spooled.kind.format as keyof typeof REENCODABLE];
  if (metadata.exif && output) {
    const stripped = `${spooled.path}.stripped`;
    // rotate() applies the EXIF orientation first, so the picture stays upright without it.
    const info = await sharp(spooled.path).rotate().keepIccProfile().toFormat(output, { quality: 95 }).toFile(stripped);
    await rename(stripped, spooled.path);
    spooled.bytes = info.size;
  }
}

/** Passes bytes through, deciding the file's kind from its first bytes and stopping it at its kind's limit. */
class Inspector extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private head = Buffer.alloc(0);
  private detected: MediaKind | undefined;
  private readonly field: string;
  private readonly accepts: Array<MediaKind['resourceType']>;
  private readonly limits: FormLimits;

  constructor(field: string, accepts: Array<MediaKind['resourceType']>, limits: FormLimits) {
    super();
    this.field = field;
    this.accepts = accepts;
    this.limits = limits;
  }

  kind(): MediaKind {
    if (!this.detected) throw this.unsupported();
    return this.detected;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(this.check(chunk), chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  /** Null while the file is fine so far; the error that stops it otherwise. */
  private check(chunk: Buffer): HttpError | null {
    this.bytes += chunk.length;
    if (!this.detected) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES)]).subarray(0, SNIFF_BYTES);
      if (this.head.length < SNIFF_BYTES) return null;
      this.detected = sniffMediaKind(this.head);
      if (!this.detected || !this.accepts.includes(this.detected.resourceType)) return this.unsupported();
    }
    const max = this.detected.resourceType === 'video' ? this.limits.maxVideoBytes : this.limits.maxImageBytes;
    if (this.bytes <= max) return null;
    return new HttpError(
      413,
      'payload_too_large',
      `"${this.field}" is over the ${this.detected.resourceType} limit of ${megabytes(max)}`,
    );
  }

  override _flush(done: TransformCallback): void {
    if (!this.detected) this.detected = sniffMediaKind(this.head);
    done(this.detected && this.accepts.includes(this.detected.resourceType) ? null : this.unsupported());
  }

  private unsupported(): HttpError {
    const kinds = this.accepts
      .map((kind) => (kind === 'image' ? 'a JPEG, PNG, WebP or GIF image' : 'an MP4, MOV or WebM video'))
      .join(' or ');
    return new HttpError(415, 'unsupported_media_type', `"${this.field}" must be ${kinds}`);
  }
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}
