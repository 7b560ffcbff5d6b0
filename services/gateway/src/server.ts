import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '@mediaflow/config';
import type { Logger } from '@mediaflow/logger';
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { type AppDeps, app } from './app.ts';
import { frameworkErrorHandler } from './http/errors.ts';
import { requestIdOf } from './http/request-id.ts';
import { requestLogView } from './http/request-log.ts';

/** In-flight requests get this long to finish after SIGTERM before the process gives up. */
const SHUTDOWN_DEADLINE_MS = 10_000;

export function buildServer(deps: AppDeps, logger: Logger) {
  const { config } = deps;
  const server = Fastify({
    // Request lines without the credentials a URL may carry (an events token): request-log.ts.
    loggerInstance: logger.child({}, { serializers: { req: requestLogView } }),
    // The client's x-request-id only when it is a sane id (request-id.ts); Fastify would take any.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Which X-Forwarded-* to believe: request.ip and request.protocol (HSTS, Secure cookies) follow it.
    trustProxy: trustProxyOf(config.trustProxy),
    // A client gets REQUEST_TIMEOUT_MS to send its whole request (a slow or stalled upload would
    // otherwise hold a socket and a spool file forever), then hears 408 and is disconnected...
    requestTimeout: config.requestTimeoutMs,
    // ...and a socket idle for CONNECTION_TIMEOUT_MS while the client owes data is closed (timeouts.ts).
    connectionTimeout: config.connectionTimeoutMs,
    // Node's own settings, given when it makes the server, as it needs them: Node swaps the headers and
    // request timeouts when the first is the longer (Fastify sets only the second, later), so the
    // headers get at most as long as the whole request; and Node looks for requests over their time every
    // 30 s by default, so a shorter REQUEST_TIMEOUT_MS gets a closer look. Keep-alive stays Fastify's 72 s.
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, config.requestTimeoutMs),
    },
    // Unknown fields are an error the client should hear about, not something to drop silently, and a
    // number is not a string: no type coercion (query numbers are parsed by the routes themselves).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // A URL the router cannot even read (bad percent-encoding, an over-long id) answers in the one error shape.
    frameworkErrors: (error, request, reply) => frameworkErrorHandler(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // fp: the app's error and not-found handlers apply to the whole server.
  server.register(fp(app), deps);
  return server;
}

/**
 * Fastify takes TRUST_PROXY's true and address lists as they are, but treats a bare hop count as
 * "trust no one" (a count cannot tell the proxy from a client that reached the gateway directly): here
 * a count trusts that many hops nearest the gateway, as `true` trusts all of them, for deployments where
 * nothing but the proxies can reach it.
 */
function trustProxyOf(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting;
  return (_address, hop) => hop < setting;
}

/** Listens until SIGTERM or SIGINT, then stops taking requests, lets in-flight ones finish, closes, exits 0. */
export async function runServer(
  deps: AppDeps,
  options: { port: number; host: string; logger: Logger; onClose: () => Promise<void> },
): Promise<ReturnType<typeof buildServer>> {
  const server = buildServer(deps, options.logger);
  closeWithGrace({ delay: SHUTDOWN_DEADLINE_MS, logger: options.logger }, async ({ signal, err }) => {
    if (err) options.logger.error({ err }, 'gateway crashed; shutting down');
    else options.logger.info({ signal }, 'gateway shutting down');
    await server.close();
    await options.onClose();
  });
  await server.listen({ port: options.port, host: options.host });
  return server;
}
