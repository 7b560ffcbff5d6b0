import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

/**
 * What CONNECTION_TIMEOUT_MS (Fastify's `connectionTimeout`, a socket's idle timeout) may cut.
 *
 * Node closes a socket on which nothing moved for that long, whatever the request's state. That is
 * right while the client owes data (the rest of its request, or reading the answer: a client that
 * stops reading would otherwise hold the socket and the answer forever), but not while the gateway is
 * working on a request it has read whole: the client is rightly silent then, and a submission's upload
 * to the store can take longer than the idle timeout. That wait is bounded by the work's own timeouts
 * (UPLOAD_TIMEOUT_MS and the like), so it is let through here. REQUEST_TIMEOUT_MS bounds the whole
 * request's arrival on its own, however lively the socket.
 */
export const socketTimeouts = fp(async (app) => {
  app.addHook('onRequest', async (request, reply) => {
    // A 'timeout' listener on the response means Node leaves the socket to it.
    reply.raw.on('timeout', (socket: Socket) => {
      if (request.raw.complete && !reply.raw.headersSent) return;
      socket.destroy();
    });
  });
});
