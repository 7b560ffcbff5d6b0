import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '@mediaflow/logger';
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { type AppDeps, app } from './app.ts';
import { frameworkErrorHandler } from './http/errors.ts';

/** In-flight requests get this long to finish after SIGTERM before the process gives up. */
const SHUTDOWN_DEADLINE_MS = 10_000;

export function buildServer(deps: AppDeps, logger: Logger) {
  const server = Fastify({
    loggerInstance: logger,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
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
