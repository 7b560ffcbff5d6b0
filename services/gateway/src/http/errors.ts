import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type ErrorCode, HttpError } from '../services/errors.ts';

/** The one error shape every route answers with. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable, machine-readable: switch on this.' }),
      message: Type.String({ description: 'What failed and what to do about it.' }),
    }),
  },
  { $id: 'ErrorResponse' },
);

/** `response` entries for the error statuses a route can answer. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  409: 'conflict',
  410: 'gone',
  412: 'precondition_failed',
  415: 'unsupported_media_type',
  422: 'idempotency_key_reused',
  429: 'rate_limited',
  503: 'service_unavailable',
};

/** The code an answer of `status` carries when nothing more specific is known. */
export function codeForStatus(status: number): ErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'invalid_input');
}

/** Fastify's and its plugins' errors that need a status or message of their own. */
const KNOWN_ERRORS: Record<string, { status: number; message?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { status: 413 },
  FST_FILES_LIMIT: { status: 413, message: 'too many files in the request' },
  FST_PARTS_LIMIT: { status: 413, message: 'too many parts in the request' },
  FST_FIELDS_LIMIT: { status: 413, message: 'too many fields in the request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: 'send application/json or multipart/form-data' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, message: 'send multipart/form-data' },
};

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!request.raw.complete) closeAfterLingering(request.raw, reply);
  if (error instanceof HttpError) {
    if (error.retryAfterS !== undefined) reply.header('retry-after', String(error.retryAfterS));
    return send(reply, error.statusCode, error.code, error.message);
  }
  if (error.validation) {
    const where = error.validationContext ?? 'request';
    const details = error.validation
      .map((v) => `${where}${v.instancePath || ''} ${v.message ?? 'is invalid'}`)
      .join('; ');
    return send(reply, 400, 'invalid_input', details);
  }
  const known = KNOWN_ERRORS[error.code];
  if (known)
    return send(reply, known.status, CODE_BY_STATUS[known.status] ?? 'invalid_input', known.message ?? error.message);
  const status = error.statusCode ?? 0;
  if (status >= 400 && status < 500)
    return send(reply, status, CODE_BY_STATUS[status] ?? 'invalid_input', error.message);
  // @fastify/multipart throws errors with no status for some malformed bodies (provider notes): still the client's fault.
  if (status === 0 && isMalformedBody(error))
    return send(reply, 400, 'invalid_input', `malformed request body: ${error.message}`);
  request.log.error({ err: error }, 'request failed');
  return send(reply, 500, 'internal', 'something went wrong on our side; try again, and report it if it persists');
}

/** Errors the router raises before any route runs: a URL it cannot decode, an over-long path parameter. */
export function frameworkErrorHandler(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  // No hook has run, so no security headers either (security-headers.ts): the API's essentials here.
  reply.header('x-content-type-options', 'nosniff');
  reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  return send(reply, error.statusCode ?? 400, 'invalid_input', error.message);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
}

/** How long, and how much of the rest of a refused body, is read and thrown away before the connection closes. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * A refusal sent before its request's body was read closes the connection after it: the unread rest of the
 * body must not be taken for the client's next request. Not at once, though (a lingering close, as nginx
 * does): the answer goes out, but its end, after which Node closes the connection, waits while the rest is
 * read and thrown away, until the body ends or for at most LINGER_MS or LINGER_BYTES. Closing under a
 * client that is still sending resets the connection, and the client then sees a network error instead of
 * the answer (the API contract test caught it as a flake).
 */
function closeAfterLingering(raw: IncomingMessage, reply: FastifyReply): void {
  reply.header('connection', 'close');
  const response = reply.raw;
  const end = response.end;
  response.end = function endOnceRead(this: ServerResponse, ...args: unknown[]) {
    response.end = end;
    if (raw.complete || raw.destroyed) return end.apply(this, args as Parameters<ServerResponse['end']>);
    const [chunk] = args;
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) response.write(chunk);
    const callback = args.find((arg): arg is () => void => typeof arg === 'function');
    let read = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', count);
      raw.off('end', finish);
      raw.off('close', finish);
      end.apply(response, (callback ? [callback] : []) as unknown as Parameters<ServerResponse['end']>);
    };
    const count = (data: Buffer) => {
      read += data.length;
      if (read > LINGER_BYTES) finish();
    };
    const timer = setTimeout(finish, LINGER_MS);
    raw.on('data', count);
    raw.once('end', finish);
    raw.once('close', finish);
    raw.resume();
    return this;
  } as ServerResponse['end'];
}

function send(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

function isMalformedBody(error: Error): boolean {
  return /multipart|boundary|unexpected end|malformed|part terminated/i.test(error.message);
}
