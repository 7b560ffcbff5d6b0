import type { FastifyRequest } from 'fastify';

/** Query parameters whose values are credentials: an events token (`?token=`, job-events route). */
const SECRET_PARAMETERS = /([?&]token=)[^&#]*/gi;

/** A URL as the logs may show it: a credential in its query string is replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMETERS, '$1[redacted]');
}

/**
 * The request as a log line shows it (Fastify's own `req` serializer, with the URL redacted): an events
 * token in a URL must never reach the logs, where it would outlive its purpose in anyone's hands.
 */
export function requestLogView(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
