import { listen, pathOf, sendJson } from './http.ts';

/** A span as the OTLP/HTTP JSON encoding carries it (the fields tests look at). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  /** The exporting process's service.name. */
  service: string;
}

export interface FakeOtlpCollector {
  /** The base URL to set as OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans: OtlpSpan[];
  close(): Promise<void>;
}

/**
 * An OpenTelemetry collector's OTLP/HTTP traces endpoint (POST /v1/traces, JSON encoding), keeping
 * every span it receives. Answers like a collector: 200 with an empty partial-success object.
 */
export async function startFakeOtlpCollector(): Promise<FakeOtlpCollector> {
  const spans: OtlpSpan[] = [];
  const server = await listen((req, res, body) => {
    if (req.method !== 'POST' || pathOf(req) !== '/v1/traces') {
      return sendJson(res, 404, { code: 5, message: 'not found' });
    }
    if (!req.headers['content-type']?.startsWith('application/json')) {
      return sendJson(res, 415, { code: 3, message: 'this fake takes the JSON encoding only' });
    }
    const request = JSON.parse(body.toString()) as {
      resourceSpans: Array<{
        resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
        scopeSpans: Array<{ spans: Array<Omit<OtlpSpan, 'service'>> }>;
      }>;
    };
    for (const resourceSpans of request.resourceSpans) {
      const service =
        resourceSpans.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue ??
        '';
      for (const scope of resourceSpans.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
    }
    sendJson(res, 200, { partialSuccess: {} });
  });
  return { endpoint: server.origin, spans, close: server.close };
}
