import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { jobEventStreams } from '@mediaflow/telemetry';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import type { JobEvent, JobEvents } from '../services/job-events.ts';
import { JobStatusResponse } from './schemas.ts';

/** A comment line this often keeps proxies (and idle-socket timeouts) from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;
const KEEP_ALIVE = ': keep-alive\n\n';
/** The status answer's schema, as one object: Fastify compiles its serializer once per route (a WeakMap). */
const STATUS_SCHEMA = JobStatusResponse as unknown as Record<string, unknown>;

export interface JobEventsRouteOptions {
  events: JobEvents;
  /** Shorter than KEEP_ALIVE_MS in tests, or below a short idle-socket timeout (CONNECTION_TIMEOUT_MS). */
  keepAliveMs?: number;
}

/** One `status` event, as text/event-stream frames it (the JSON is one line). */
function frame(event: JobEvent): string {
  return `event: status\nid: ${event.id}\ndata: ${event.data}\n\n`;
}

/**
 * GET /api/jobs/:jobId/events: the job's status as server-sent events, from its state when the stream
 * opens to its completion or failure. Authenticated by the bearer header or by the events token of the
 * 202 answer's eventsUrl (`?token=`, this route only: auth.ts). The stream is a Node stream sent as the
 * answer, so every hook runs as for any answer (security headers, CORS, request logs and metrics), and
 * Fastify destroys it when the client goes away, which stops following the job.
 */
export const jobEventsRoute: FastifyPluginAsyncTypebox<JobEventsRouteOptions> = async (app, options) => {
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  // Open streams, ended when the server closes: their clients reconnect (with Last-Event-ID) elsewhere,
  // rather than holding the shutdown until its deadline.
  const open = new Map<() => void, (text: string) => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open.keys()]) end();
  });
  // One timer for every open stream, not one each: thousands of streams are thousands of timers otherwise.
  const keepAlive = setInterval(() => {
    for (const write of open.values()) write(KEEP_ALIVE);
  }, keepAliveMs);
  keepAlive.unref();
  app.addHook('onClose', async () => clearInterval(keepAlive));

  app.get(
    '/jobs/:jobId/events',
    {
      schema: {
        summary: "Follow a job's status live (server-sent events)",
        description: [
          "A `text/event-stream` of the job's status: first its current state, then one event at every change of the job or of one of its steps, each `event: status` with `data` the same JSON as `GET /api/jobs/{jobId}` and `id` that answer's ETag (unquoted). The stream ends after the `completed` or `failed` event. A comment line (`: keep-alive`) comes every 15 s.",
          "Authenticate with the bearer header, or — from a browser's `EventSource`, which cannot send headers — open the `eventsUrl` of the 202 answer as it is: its `token` is valid 15 minutes, for this job's events only (a token for another job, or an expired one, is 401). Another user's job is 404.",
          'On reconnecting, `Last-Event-ID` (EventSource sends it by itself) skips the state the client already has; when that is the final one the answer is 204, which tells an EventSource to stop reconnecting.',
        ].join('\n\n'),
        tags: ['jobs'],
        produces: ['text/event-stream'],
        params: Type.Object({ jobId: Type.String({ format: 'uuid' }) }),
        querystring: Type.Object({
          token: Type.Optional(
            Type.String({
              description:
                "The events token of the 202 answer's eventsUrl, instead of the Authorization header (this route only).",
            }),
          ),
        }),
        headers: Type.Object({
          'last-event-id': Type.Optional(
            Type.String({ description: 'The id of the last event received: that state is not sent again.' }),
          ),
        }),
        response: {
          // A stream, sent as it is (never serialized); documented as the text it is.
          200: Type.Unsafe<Readable>({
            type: 'string',
            description:
              'text/event-stream: `event: status`, `id: <ETag of the state>`, `data: <the job status JSON>` per change, until completed or failed.',
          }),
          204: Type.Null({ description: 'Last-Event-ID is the job’s final state: nothing more will come.' }),
          ...errorResponses(400, 401, 404, 503),
        },
      },
      config: { eventsToken: true },
    },
    async (request, reply) => {
      // A bare Readable, pushed to: lighter than a PassThrough (no writable side) at thousands of streams.
      const stream = new Readable({ read() {} });
      let ended = false;
      let wrote = false;
      const write = (text: string) => {
        if (ended || stream.destroyed) return;
        wrote = true;
        stream.push(text);
      };
      const finish = () => {
        if (ended) return;
        ended = true;
        stream.push(null);
      };
      // As GET /api/jobs/:jobId serializes it, so that both answers, and their ids, are the same.
      const serialize = reply.compileSerializationSchema(STATUS_SCHEMA) as (job: unknown) => string;
      const lastEventId = request.headers['last-event-id'];
      let following: Awaited<ReturnType<JobEvents['follow']>>;
      try {
        following = await options.events.follow({
          ownerId: request.userId,
          jobId: request.params.jobId,
          ...(lastEventId ? { lastEventId } : {}),
          serialize,
          send: (event) => write(frame(event)),
          end: finish,
        });
      } catch (error) {
        stream.destroy();
        throw error;
      }
      if (following.finished) {
        stream.destroy();
        return reply.code(204).send(null);
      }

      const end = () => {
        following.close();
        finish();
      };
      open.set(end, write);
      jobEventStreams.inc();
      // Ended (the final event, the server closing) or destroyed (the client went away): stop following.
      stream.once('close', () => {
        following.close();
        open.delete(end);
        jobEventStreams.dec();
      });
      // The headers go out with the first bytes: when the client has the current state already, a comment.
      if (!wrote) write(KEEP_ALIVE);
      return (
        reply
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache')
          .header('connection', 'keep-alive')
          // Proxies that buffer answers (nginx) pass this one on as it comes.
          .header('x-accel-buffering', 'no')
          .send(stream)
      );
    },
  );
};
