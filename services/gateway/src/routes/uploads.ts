import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import type { TusUploads } from '../http/tus.ts';
import type { Uploads } from '../services/uploads.ts';
import { UploadIdField } from './schemas.ts';

export interface UploadsRouteOptions {
  tus: TusUploads;
  uploads: Uploads;
  /** MAX_UPLOADS_IN_FLIGHT, for the requests that carry bytes. */
  takeUploadSlot: onRequestHookHandler;
  maxImageBytes: number;
  maxVideoBytes: number;
}

const TusResumable = Type.Literal('1.0.0', { description: 'The tus protocol version: `1.0.0`.' });
const UploadId = Type.Object({ id: UploadIdField('The last segment of the upload’s Location.') });
const Empty = (description: string) => Type.Null({ description });

/**
 * Resumable uploads with the tus 1.0 protocol (https://tus.io/protocols/resumable-upload): the routes the
 * API documents, each handing the request to the tus server (http/tus.ts). A client such as tus-js-client
 * or Uppy creates an upload, sends it in chunks, and after a cut connection asks for the offset and goes
 * on from there; a submission then names the upload by its id.
 */
export const uploadsRoutes: FastifyPluginAsyncTypebox<UploadsRouteOptions> = async (app, options) => {
  // PATCH bodies are the upload's bytes, streamed by the tus server to the spool: Fastify leaves them unread.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    await options.tus.handle(request, reply);
    return reply.send(null);
  };
  const limits = `images up to ${options.maxImageBytes} bytes (MAX_IMAGE_BYTES), videos up to ${options.maxVideoBytes} (MAX_VIDEO_BYTES)`;

  app.post(
    '/uploads',
    {
      onRequest: options.takeUploadSlot,
      schema: {
        summary: 'Start a resumable upload (tus creation)',
        description: `Creates an upload of \`Upload-Length\` bytes: ${limits}, told apart by the \`filetype\` in \`Upload-Metadata\` (comma-separated \`key base64(value)\` pairs; \`filename\` and \`filetype\` are required; \`filetype\` one of image/jpeg, image/png, image/webp, image/gif, video/mp4, video/quicktime, video/webm). The answer's \`Location\` is the upload's URL; its last segment is the id a submission names (\`uploadId\` in POST /api/posts, \`bannerUploadId\`/\`featuredUploadId\` in POST /api/blogs). Bytes may come with this request (Content-Type \`application/offset+octet-stream\`, creation-with-upload) or in PATCH requests. An upload not used by a submission within UPLOAD_TTL (24 h by default; \`Upload-Expires\`) is deleted. Counts against MAX_UPLOADS_IN_FLIGHT while the request is open (429); 503 when the server's spool has no room for it.`,
        tags: ['uploads'],
        headers: Type.Object({
          'tus-resumable': TusResumable,
          'upload-length': Type.String({ pattern: '^[0-9]+$', description: 'The whole file’s size in bytes.' }),
          'upload-metadata': Type.String({ description: '`filename <base64>,filetype <base64>`' }),
        }),
        response: {
          201: Empty(
            'Created. `Location`: the upload’s URL (`/api/uploads/<id>`); `Upload-Expires`: when it is deleted if unused; `Upload-Offset` when bytes came with the request.',
          ),
          ...errorResponses(400, 401, 412, 413, 415, 429, 503),
        },
      },
    },
    handle,
  );

  app.head(
    '/uploads/:id',
    {
      // A 500 MB video is 100 chunks of 5 MB: chunks and offset checks are bounded by the upload's own
      // size and MAX_UPLOADS_IN_FLIGHT, not by the per-minute write limit (its creation counts there).
      config: { rateLimit: false },
      schema: {
        summary: 'How much of an upload the server has (tus core)',
        description:
          'After a broken connection, ask for `Upload-Offset` and send the rest from there. Another user’s upload is 404.',
        tags: ['uploads'],
        params: UploadId,
        headers: Type.Object({ 'tus-resumable': TusResumable }),
        response: {
          200: Empty('`Upload-Offset`: bytes received; `Upload-Length`; `Upload-Metadata`; `Cache-Control: no-store`.'),
          ...errorResponses(401, 404, 410, 412),
        },
      },
    },
    handle,
  );

  app.patch(
    '/uploads/:id',
    {
      config: { rateLimit: false },
      onRequest: options.takeUploadSlot,
      schema: {
        summary: 'Send bytes of an upload (tus core)',
        description:
          'The body (Content-Type `application/offset+octet-stream`) is appended at `Upload-Offset`, which must be the server’s offset (409 otherwise). The request that completes the upload is answered once the file is checked like a multipart file (its kind from its first bytes, which must match the declared `filetype`; its size; an image’s pixels; EXIF removed): a file that fails is deleted and the answer says why (413, 415). Counts against MAX_UPLOADS_IN_FLIGHT while open.',
        tags: ['uploads'],
        params: UploadId,
        consumes: ['application/offset+octet-stream'],
        headers: Type.Object({
          'tus-resumable': TusResumable,
          'upload-offset': Type.String({
            pattern: '^[0-9]+$',
            description: 'Where these bytes go: the server’s offset.',
          }),
        }),
        response: {
          204: Empty('Appended. `Upload-Offset`: the new offset; `Upload-Expires` while unfinished.'),
          ...errorResponses(400, 401, 404, 409, 410, 412, 413, 415, 429),
        },
      },
    },
    handle,
  );

  app.delete(
    '/uploads/:id',
    {
      schema: {
        summary: 'End an upload and delete its bytes (tus termination)',
        tags: ['uploads'],
        params: UploadId,
        headers: Type.Object({ 'tus-resumable': TusResumable }),
        response: { 204: Empty('Deleted.'), ...errorResponses(401, 404, 410, 412) },
      },
    },
    async (request, reply) => {
      await options.tus.handle(request, reply);
      await options.uploads.terminated(request.params.id);
      return reply.send(null);
    },
  );
};
