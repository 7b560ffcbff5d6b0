import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import { type MediaKind, SNIFF_BYTES, sniffMediaKind } from '@mediaflow/providers';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../services/errors.ts';
import {
  checkSize,
  type FileLimits,
  inspectImage,
  megabytes,
  type ResourceType,
  unsupported,
} from '../services/file-checks.ts';
import type { LocalFile } from '../services/media-intake.ts';
import type { SpoolBudget } from '../services/spool-budget.ts';

/** A file of the request, on local disk until it is uploaded to temporary storage. */
export interface SpooledFile extends LocalFile {
  bytes: number;
  /** SHA-256 of the bytes as received: part of a request's identity for Idempotency-Key. */
  sha256: string;
}

/** What one route's form takes. */
export interface FormSpec {
  /** Fields that may carry files, and which kinds each accepts. */
  fileFields: Record<string, ResourceType[]>;
  /** Fields that may repeat; they always come out as arrays. */
  repeatable: ReadonlySet<string>;
  maxFiles: number;
  maxFieldBytes: number;
  /**
   * Runs when the first file part arrives, with the fields that came before it and the caller: a refusal
   * here means not a byte of any file was read (a post's brand membership).
   */
  beforeFiles?: (fields: ParsedForm['fields'], userId: string) => Promise<void>;
}

/** A file, or a value of a repeatable field, where it came in the form. */
export type FormPart = { field: string; file: SpooledFile } | { field: string; value: string };

export interface ParsedForm {
  fields: Record<string, string | string[]>;
  files: SpooledFile[];
  /** Every file and repeatable field value in the order it came, for submissions that keep order. */
  order: FormPart[];
  /** The spec's `beforeFiles` ran and let the files in (a post's brand membership is checked then). */
  checkedBeforeFiles: boolean;
}

export interface MultipartIntakeOptions {
  /** Where the request's files wait (SPOOL_DIR/requests). */
  dir: string;
  limits: FileLimits;
  /** MAX_SUBMISSION_BYTES: one request's parts together. */
  maxRequestBytes: number;
  budget: Pick<SpoolBudget, 'hold' | 'free'>;
}

/**
 * The one multipart intake of the submission routes. Each file streams to a spool file on local disk —
 * never whole in memory — while its first bytes decide its kind (415 when it is none of the accepted
 * kinds) and its size is counted against that kind's limit (413), and the request's size against
 * MAX_SUBMISSION_BYTES (413, from its Content-Length before anything is read, else as soon as it is
 * passed). The request holds its size on the spool's budget (503 when the spool is full). Its spool
 * files are deleted, and its budget freed, when its response is done with, whatever it is and even if
 * the connection went first (`release`).
 */
export class MultipartIntake {
  private readonly options: MultipartIntakeOptions;
  /** Requests whose response is done with (sent, or its connection closed): their files are removed. */
  private readonly answered = new WeakSet<FastifyRequest>();
  /** Each request's key on the budget (not its request id, which a client may choose and repeat). */
  private readonly budgetKeys = new WeakMap<FastifyRequest, string>();

  constructor(options: MultipartIntakeOptions) {
    this.options = options;
  }

  get dir(): string {
    return this.options.dir;
  }

  /**
   * A submission route's preValidation hook: refuses anything but multipart/form-data (415), reads the form
   * and leaves `toBody(form)` as `request.body`, for the route's schema to validate next, and the form
   * itself as `request.form`.
   */
  body(spec: FormSpec, toBody: (form: ParsedForm) => unknown) {
    return async (request: FastifyRequest): Promise<void> => {
      if (!request.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data');
      const form = await this.readForm(request, spec);
      request.body = toBody(form);
    };
  }

  /**
   * An onRequest hook of the submission routes: once the response is done with — sent, or its connection
   * gone first (a client that hung up, or one cut off by REQUEST_TIMEOUT_MS mid-upload), which Fastify's
   * onResponse never hears of — the request's spool files are removed and its budget freed.
   */
  readonly release = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.raw.once('close', () => this.cleanUp(request));
  };

  /** The onRequestAbort hook: the client went away mid-request, so its files go at once. */
  readonly abort = async (request: FastifyRequest): Promise<void> => {
    this.cleanUp(request);
  };

  private cleanUp(request: FastifyRequest): void {
    if (this.answered.has(request)) return;
    this.answered.add(request);
    const key = this.budgetKeys.get(request);
    if (key) this.options.budget.free(key);
    Promise.all((request.form?.files ?? []).map((file) => rm(file.path, { force: true }))).catch((error: unknown) =>
      request.log.warn({ err: error }, 'could not remove a spooled upload'),
    );
  }

  private async readForm(request: FastifyRequest, spec: FormSpec): Promise<ParsedForm> {
    const form: ParsedForm = { fields: {}, files: [], order: [], checkedBeforeFiles: false };
    request.form = form;
    const { limits, maxRequestBytes, budget } = this.options;
    const key = randomUUID();
    this.budgetKeys.set(request, key);
    const declared = Number(request.headers['content-length']);
    const known = Number.isInteger(declared) && declared >= 0;
    const counter = new RequestCounter(maxRequestBytes, known ? undefined : (bytes) => budget.hold(key, bytes));
    try {
      if (known) {
        counter.check(declared);
        budget.hold(key, declared);
      }
      await mkdir(this.options.dir, { recursive: true });
      const parts = request.parts({
        limits: {
          files: spec.maxFiles,
          // The per-kind limits are enforced while streaming; this is the backstop.
          fileSize: Math.max(limits.maxImageBytes, limits.maxVideoBytes) + 1,
          fieldSize: spec.maxFieldBytes,
          fields: 50,
          parts: 100,
        },
      });
      await this.readParts(parts, form, spec, counter, request);
    } catch (error) {
      // The parser stops reading when a part is refused; drain what the client still sends, or its
      // connection would stall with the rest of the body unread.
      request.raw.resume();
      throw error;
    }
    return form;
  }

  private async readParts(
    parts: AsyncIterableIterator<Multipart>,
    form: ParsedForm,
    spec: FormSpec,
    counter: RequestCounter,
    request: FastifyRequest,
  ): Promise<void> {
    let filesStarted = false;
    for await (const part of parts) {
      if (part.type === 'file') {
        const accepts = spec.fileFields[part.fieldname];
        if (!accepts) {
          part.file.resume();
          throw new HttpError(400, 'invalid_input', `unexpected file field "${part.fieldname}"`);
        }
        if (!filesStarted) {
          filesStarted = true;
          if (spec.beforeFiles) {
            await spec.beforeFiles(form.fields, request.userId);
            form.checkedBeforeFiles = true;
          }
        }
        const file = await this.spool(part.file, part.fieldname, part.filename, accepts, counter);
        if (this.answered.has(request)) {
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
      if (part.fieldname in spec.fileFields) {
        throw new HttpError(400, 'invalid_input', `"${part.fieldname}" must be a file, not a text field`);
      }
      counter.add(Buffer.byteLength(value));
      if (spec.repeatable.has(part.fieldname)) {
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

  private async spool(
    stream: NodeJS.ReadableStream,
    field: string,
    clientName: string,
    accepts: ResourceType[],
    counter: RequestCounter,
  ): Promise<SpooledFile> {
    const file = path.join(this.options.dir, randomUUID());
    const inspector = new Inspector(field, accepts, this.options.limits, counter);
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
        spooled.bytes = (await inspectImage(spooled, this.options.limits)) ?? spooled.bytes;
      } catch (error) {
        await rm(spooled.path, { force: true });
        throw error;
      }
    }
    return spooled;
  }
}

/** A request's bytes so far against MAX_SUBMISSION_BYTES; without a Content-Length, also the spool's budget. */
class RequestCounter {
  private total = 0;
  private readonly max: number;
  private readonly hold: ((bytes: number) => void) | undefined;

  constructor(max: number, hold: ((bytes: number) => void) | undefined) {
    this.max = max;
    this.hold = hold;
  }

  check(bytes: number): void {
    if (bytes > this.max) {
      throw new HttpError(
        413,
        'payload_too_large',
        `the request is over the ${megabytes(this.max)} limit of one submission; send large videos as resumable uploads`,
      );
    }
  }

  add(bytes: number): void {
    this.total += bytes;
    this.check(this.total);
    this.hold?.(bytes);
  }
}

/**
 * Passes bytes through, deciding the file's kind from its first bytes, stopping it at its kind's limit,
 * and counting it against the request's.
 */
class Inspector extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private head = Buffer.alloc(0);
  private detected: MediaKind | undefined;
  private readonly field: string;
  private readonly accepts: ResourceType[];
  private readonly limits: FileLimits;
  private readonly counter: RequestCounter;

  constructor(field: string, accepts: ResourceType[], limits: FileLimits, counter: RequestCounter) {
    super();
    this.field = field;
    this.accepts = accepts;
    this.limits = limits;
    this.counter = counter;
  }

  kind(): MediaKind {
    if (!this.detected) throw unsupported(this.field, this.accepts);
    return this.detected;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    let error: unknown = null;
    try {
      this.counter.add(chunk.length);
      this.check(chunk);
    } catch (refused) {
      error = refused;
    }
    done(error as Error | null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  /** Throws the error that stops the file, if any. */
  private check(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.detected) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES)]).subarray(0, SNIFF_BYTES);
      if (this.head.length < SNIFF_BYTES) return;
      this.detected = sniffMediaKind(this.head);
      if (!this.detected || !this.accepts.includes(this.detected.resourceType))
        throw unsupported(this.field, this.accepts);
    }
    checkSize(this.field, this.detected.resourceType, this.bytes, this.limits);
  }

  override _flush(done: TransformCallback): void {
    if (!this.detected) this.detected = sniffMediaKind(this.head);
    done(
      this.detected && this.accepts.includes(this.detected.resourceType) ? null : unsupported(this.field, this.accepts),
    );
  }
}
