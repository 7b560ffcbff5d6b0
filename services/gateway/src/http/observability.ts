import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type JobContext, QUEUE_NAMES } from '@mediaflow/domain';
import type { QueueRepository } from '@mediaflow/queue';
import {
  contextFrom,
  httpRequestDuration,
  observeQueues,
  registry,
  type Span,
  SpanKind,
  traceCarrier,
  tracer,
} from '@mediaflow/telemetry';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * Request metrics, a server span per request (continuing the caller's `traceparent`, if any), the
 * request id echoed as `x-request-id`, and GET /metrics with every queue's depth.
 */
export const observability = fp<{ queues: Pick<QueueRepository, 'counts'> }>(async (app, options) => {
  observeQueues(QUEUE_NAMES, (queue) => options.queues.counts(queue));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const parent = contextFrom({
      traceparent: headerValue(request.headers.traceparent),
      tracestate: headerValue(request.headers.tracestate),
    });
    const route = request.routeOptions.url ?? 'unmatched';
    spans.set(
      request,
      tracer.startSpan(
        `${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'http.route': route,
            'mediaflow.request_id': request.id,
          },
        },
        parent,
      ),
    );
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    const span = spans.get(request);
    span?.setAttribute('http.response.status_code', reply.statusCode);
    span?.end();
  });

  const metricsRoute: FastifyPluginAsyncTypebox = async (routes) => {
    routes.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics: HTTP requests, queue depths, process',
          tags: ['ops'],
          produces: ['text/plain'],
          response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
        },
      },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
  };
  await app.register(metricsRoute);
});

/** The job context of a request: its id for the workers' logs, its span for their traces. */
export function jobContext(request: FastifyRequest): JobContext {
  return { requestId: request.id, ...traceCarrier(spans.get(request)) };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
