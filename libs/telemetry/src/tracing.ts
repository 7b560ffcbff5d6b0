import type { Config } from '@mediaflow/config';
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export { type Span, SpanKind };

/** W3C trace context as it travels in a job's data: the `traceparent` and `tracestate` headers. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

export const tracer: Tracer = trace.getTracer('mediaflow');

/**
 * Starts exporting traces over OTLP/HTTP when an endpoint is configured. Without one nothing is
 * registered: the OpenTelemetry API stays a no-op and spans cost next to nothing.
 * Answers a function that flushes and stops the exporter (call it at shutdown).
 */
export function startTracing(
  service: string,
  config: Pick<Config, 'otlpEndpoint' | 'otelServiceName'>,
): () => Promise<void> {
  const endpoint = config.otlpEndpoint;
  if (endpoint === undefined) return async () => {};
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.otelServiceName ?? `mediaflow-${service}` }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }),
        // Short batches: a trace shows up within a second, not five.
        scheduledDelayMillis: 1_000,
      }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  };
}

/** The trace context of `span` (or of the active one), to put into a job's data. */
export function traceCarrier(span?: Span): TraceCarrier {
  const carrier: TraceCarrier = {};
  const from = span ? trace.setSpan(context.active(), span) : context.active();
  propagation.inject(from, carrier);
  return carrier;
}

/** The context a job's carrier continues (the root context when it carries none). */
export function contextFrom(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(context.active(), carrier) : context.active();
}

/**
 * Runs `work` inside a new active span, ending it with the outcome: spans started within (provider
 * calls, database writes) become its children.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
