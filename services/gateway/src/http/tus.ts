import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NodeRequest } from 'srvx/node';
import { HttpError } from '../services/errors.ts';
import type { UploadFiles, Uploads } from '../services/uploads.ts';
import { codeForStatus } from './errors.ts';

export const UPLOADS_PATH = '/api/uploads';

/**
 * The tus 1.0 protocol for resumable uploads (@tus/server, with @tus/file-store on the spool): creation,
 * core (HEAD for the offset, PATCH to append), termination and expiration. What is the service's own —
 * who may touch an upload, the limits, the checks of a finished file — is `Uploads`, called from the tus
 * server's hooks. Requests reach it through Fastify routes (routes/uploads.ts), so that authentication,
 * rate limits, upload slots, CORS, security headers and logs apply as to any route, and its errors
 * answer in the API's one JSON shape.
 */
export class TusUploads {
  readonly files: UploadFiles;
  private readonly store: FileStore;
  private server: Server | undefined;
  private readonly ready: Promise<unknown>;
  /** Who is asking, for the tus server's hooks, which see only the protocol's request. */
  private readonly callers = new WeakMap<object, string>();

  /** The tus server's files under `directory`/uploads (each upload's bytes and its `.json`), checked images without EXIF under `directory`/checked. */
  constructor(options: { directory: string; ttlMs: number }) {
    const directory = path.resolve(options.directory, 'uploads');
    const checked = path.resolve(options.directory, 'checked');
    this.ready = mkdir(checked, { recursive: true });
    this.store = new FileStore({ directory, expirationPeriodInMilliseconds: options.ttlMs });
    // What the service offers: no deferred length (an upload's size decides its limit and its room on
    // the spool when it is created), no concatenation.
    this.store.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
    const store = this.store;
    this.files = {
      pathOf: (id) => path.join(directory, id),
      checkedPathOf: (id) => path.join(checked, id),
      remove: (id) =>
        store.remove(id).catch(() => {
          // Already gone: nothing to remove.
        }),
    };
  }

  /** Serves the tus protocol with `uploads` deciding what the protocol leaves to the service. */
  attach(uploads: Uploads, maxBytes: number): void {
    const callers = this.callers;
    const callerOf = (request: object) => {
      const userId = callers.get(request);
      if (userId === undefined) throw new Error('a tus request reached the server without its caller');
      return userId;
    };
    this.server = new Server({
      path: UPLOADS_PATH,
      datastore: this.store,
      // `/api/uploads/<id>`: the id, the last segment, is what submissions name; clients resolve it.
      relativeLocation: true,
      // The largest kind's limit; each upload's own (its declared type's) is checked on creation.
      maxSize: maxBytes,
      onIncomingRequest: async (request, id) => {
        // A creation has no upload yet to own; onUploadCreate records it.
        if (request.method !== 'POST') await uploads.assertOwner(id, callerOf(request));
      },
      onUploadCreate: async (request, upload) => {
        await uploads.create({
          id: upload.id,
          ownerId: callerOf(request),
          length: upload.size,
          filename: upload.metadata?.filename ?? undefined,
          filetype: upload.metadata?.filetype ?? undefined,
        });
        return {};
      },
      onUploadFinish: async (request, upload) => {
        await uploads.finish(upload.id, callerOf(request));
        return {};
      },
      // The service's own refusals keep their code and message, in the body the route turns into JSON.
      onResponseError: (_request, error) =>
        error instanceof HttpError
          ? {
              status_code: error.statusCode,
              body: JSON.stringify({ code: error.code, message: error.message, retryAfterS: error.retryAfterS }),
            }
          : undefined,
    });
  }

  /** The uploads on disk with their declared sizes, for the spool's budget at start. */
  async held(): Promise<Array<{ id: string; size: number }>> {
    await this.ready;
    const ids = (await this.store.configstore.list?.().catch(() => [])) ?? [];
    const held: Array<{ id: string; size: number }> = [];
    for (const id of ids) {
      const upload = await this.store.configstore.get(id);
      if (upload?.size !== undefined) held.push({ id, size: upload.size });
    }
    return held;
  }

  /** Deletes unfinished uploads past UPLOAD_TTL that no row names (the rows' own sweep is `Uploads.expire`). */
  async deleteExpired(): Promise<number> {
    return this.store.deleteExpired();
  }

  /**
   * Runs a tus request: its status and headers go onto `reply` for the route to send (tus answers have
   * no body), an error is thrown as the API's HttpError.
   */
  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!this.server) throw new Error('TusUploads.attach was not called');
    const protocolRequest = new NodeRequest({ req: request.raw, res: reply.raw });
    this.callers.set(protocolRequest, request.userId);
    const response = await this.server.handleWeb(protocolRequest);
    for (const [name, value] of response.headers) {
      // CORS is the gateway's (http/cors.ts); the length is of the body sent below.
      if (name.startsWith('access-control-') || name === 'content-length') continue;
      reply.header(name, value);
    }
    if (response.status >= 400) throw await asHttpError(response);
    reply.code(response.status);
  }
}

async function asHttpError(response: Response): Promise<HttpError> {
  const body = await response.text();
  try {
    const own = JSON.parse(body) as { code: HttpError['code']; message: string; retryAfterS?: number };
    return new HttpError(response.status, own.code, own.message, { retryAfterS: own.retryAfterS });
  } catch {
    // One of the protocol's own answers, e.g. "Upload-Offset conflict".
    const message = body.trim() || `the upload request failed (${response.status})`;
    return new HttpError(response.status, codeForStatus(response.status), message);
  }
}
