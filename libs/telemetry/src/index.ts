export {
  httpRequestDuration,
  jobDuration,
  jobEventStreams,
  observeQueues,
  providerQuotaRefusals,
  registry,
  retentionDeleted,
  storeFallbacks,
  tempAssetsCleaned,
  workerPausedSeconds,
} from './metrics.ts';
export { observeProviderCall } from './observe.ts';
export { type CheckState, checkReadiness, type Readiness, startOpsServer } from './ops-server.ts';
export {
  contextFrom,
  inSpan,
  type Span,
  SpanKind,
  startTracing,
  type TraceCarrier,
  traceCarrier,
  tracer,
} from './tracing.ts';
