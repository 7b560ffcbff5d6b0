import type { JobsRepository, WebhooksRepository } from '@mediaflow/db';
import {
  type ClassifiedError,
  type DeliverWebhookPayload,
  type DeliverWebhookResult,
  type JobErrorCode,
  PermanentJobError,
  toJobStatusView,
} from '@mediaflow/domain';
import {
  type CheckedWebhookUrl,
  checkWebhookUrl,
  postWebhook,
  type ResolveHost,
  WebhookCallFailed,
  type WebhookResponse,
  type WebhookUrlPolicy,
  WebhookUrlRefused,
} from '@mediaflow/providers';
import { inSpan, SpanKind } from '@mediaflow/telemetry';
import { Webhook } from 'standardwebhooks';

/** How long a receiver has to answer one delivery attempt. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

export interface NotifierDeps {
  deliveries: Pick<WebhooksRepository, 'findDelivery' | 'recordResponse'>;
  jobs: Pick<JobsRepository, 'findForOwner'>;
  /** http: and loopback allowed (WEBHOOK_ALLOW_PRIVATE), or public https: only. */
  policy: WebhookUrlPolicy;
  /** How the SSRF guard resolves a host name (dns.lookup); tests give a table, so that no DNS server is asked. */
  resolve?: ResolveHost;
  /** The call itself (postWebhook). */
  post?: typeof postWebhook;
  timeoutMs?: number;
  now?: () => Date;
}

/**
 * An attempt that did not deliver: a receiver's non-2xx answer, no answer, or an address refused. Retried
 * unless `retryable` is false; its message is what the delivery's owner reads.
 */
export class DeliveryFailed extends Error implements ClassifiedError {
  readonly code: JobErrorCode;
  readonly retryable: boolean;
  constructor(code: JobErrorCode, message: string, retryable: boolean) {
    super(message);
    this.name = 'DeliveryFailed';
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * Sends one delivery (Standard Webhooks): the job's status JSON, as GET /api/jobs/:id answers it now, POSTed
 * with the headers webhook-id (the delivery's id: the same on every attempt, so receivers can drop repeats),
 * webhook-timestamp and webhook-signature (HMAC-SHA256 with the webhook's secret). The URL is checked again
 * (its host may point elsewhere since registration) and the call goes to the address checked, with no
 * redirect followed. A 2xx answer delivers it; anything else is recorded on the delivery and retried.
 * A delivery of a webhook deleted since is not sent.
 */
export async function deliverWebhook(
  payload: DeliverWebhookPayload,
  deps: NotifierDeps,
): Promise<DeliverWebhookResult> {
  const delivery = await deps.deliveries.findDelivery(payload.jobId);
  if (!delivery) throw new PermanentJobError('internal', `no webhook delivery ${payload.jobId}`);
  const { webhook } = delivery;
  if (webhook.deletedAt) throw new DeliveryFailed('invalid_input', 'the webhook was deleted: not sent', false);
  const job = await deps.jobs.findForOwner(delivery.jobId, webhook.ownerId);
  if (!job) throw new PermanentJobError('internal', `no job ${delivery.jobId} of the webhook's owner`);

  let target: CheckedWebhookUrl;
  try {
    target = await checkWebhookUrl(webhook.url, deps.policy, deps.resolve);
  } catch (error) {
    if (!(error instanceof WebhookUrlRefused)) throw error;
    throw new DeliveryFailed('invalid_input', `not sent: ${error.message}`, !error.permanent);
  }

  const body = JSON.stringify(toJobStatusView(job));
  const timestamp = (deps.now ?? (() => new Date()))();
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'mediaflow-webhooks/1',
    'webhook-id': delivery.id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(webhook.secret).sign(delivery.id, timestamp, body),
  };
  const timeoutMs = deps.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  let response: WebhookResponse;
  try {
    response = await inSpan(
      'webhook POST',
      { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'POST', 'server.address': target.hostname } },
      () => (deps.post ?? postWebhook)(target, { headers, body, timeoutMs }),
    );
  } catch (error) {
    if (!(error instanceof WebhookCallFailed)) throw error;
    await deps.deliveries.recordResponse(delivery.id, {
      statusCode: null,
      durationMs: error.durationMs,
      error: error.message,
    });
    throw new DeliveryFailed(error.timedOut ? 'provider_timeout' : 'provider_unavailable', error.message, true);
  }
  if (response.statusCode >= 200 && response.statusCode < 300) return response;
  // Any other answer is retried, a redirect included (it is not followed: the URL is the one registered).
  const message = `the receiver answered ${response.statusCode}`;
  await deps.deliveries.recordResponse(delivery.id, { ...response, error: message });
  throw new DeliveryFailed(response.statusCode >= 500 ? 'provider_unavailable' : 'provider_rejected', message, true);
}
