import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric mediaflow exports, in one process-wide registry (one process, one /metrics page).
 * Names follow Prometheus conventions: seconds for durations, `_total` for counters.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'mediaflow_process_' });

export const httpRequestDuration = new Histogram({
  name: 'mediaflow_http_request_duration_seconds',
  help: 'Gateway HTTP requests, by method, route pattern and status code.',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'mediaflow_job_duration_seconds',
  help: 'Job attempts by kind and outcome (completed, retry: failed and will run again, failed: for good).',
  labelNames: ['kind', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

export const providerCalls = new Counter({
  name: 'mediaflow_provider_calls_total',
  help: 'Calls to image generators and media stores, by provider, operation and outcome (ok, error).',
  labelNames: ['provider', 'operation', 'outcome'] as const,
  registers: [registry],
});

export const providerCallDuration = new Histogram({
  name: 'mediaflow_provider_call_duration_seconds',
  help: 'Duration of calls to image generators and media stores, by provider and operation.',
  labelNames: ['provider', 'operation'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [registry],
});

export const storeFallbacks = new Counter({
  name: 'mediaflow_store_fallbacks_total',
  help: 'Uploads and promotions that went to the next store (e.g. ImageKit) because the one before failed.',
  labelNames: ['from', 'to', 'operation'] as const,
  registers: [registry],
});

export const workerPausedSeconds = new Counter({
  name: 'mediaflow_worker_paused_seconds_total',
  help: 'Time a worker took no new jobs, by queue and cause: database or redis unreachable, or a provider quota (quota:<provider>).',
  labelNames: ['queue', 'cause'] as const,
  registers: [registry],
});

export const providerQuotaRefusals = new Counter({
  name: 'mediaflow_provider_quota_refusals_total',
  help: 'Calls a provider refused for quota or rate limit (429, or Cloudinary 420), by provider.',
  labelNames: ['provider'] as const,
  registers: [registry],
});

export const jobEventStreams = new Gauge({
  name: 'mediaflow_job_event_streams',
  help: 'Job event streams (GET /api/jobs/:id/events) this gateway has open.',
  registers: [registry],
});

export const tempAssetsCleaned = new Counter({
  name: 'mediaflow_temp_assets_cleaned_total',
  help: 'Temporary generated assets deleted from their store after TEMP_ASSET_TTL, never promoted.',
  labelNames: ['provider'] as const,
  registers: [registry],
});

export const retentionDeleted = new Counter({
  name: 'mediaflow_retention_deleted_total',
  help: 'What retention deleted because the service no longer needs it, by kind: job_inputs, idempotency_keys, upload_objects, spool_files, uploads.',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/**
 * Reports these queues' depths by state on every scrape, from `counts` (the queue repository's). Each
 * replica reports the same numbers (they come from Redis): aggregate with max, not sum.
 */
export function observeQueues<Q extends string>(
  queues: readonly Q[],
  counts: (queue: Q) => Promise<Record<string, number>>,
): void {
  registry.removeSingleMetric('mediaflow_queue_jobs');
  new Gauge({
    name: 'mediaflow_queue_jobs',
    help: 'Jobs in each BullMQ queue by state, as Redis holds them at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        for (const [state, count] of Object.entries(await counts(queue))) this.set({ queue, state }, count);
      }
    },
  });
}
