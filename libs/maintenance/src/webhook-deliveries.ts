import type { WebhookDeliveryRecorder, WebhooksRepository } from '@mediaflow/db';
import type { Logger } from '@mediaflow/logger';
import type { QueueRepository } from '@mediaflow/queue';

const BATCH = 100;

/**
 * The reconciler's part for webhooks: every delivery not yet sent and untouched for `graceMs` is checked
 * against its queue.
 * - One the queue does not hold (its queueing after the job's end failed, e.g. Redis was away; or Redis
 *   lost it) is queued: the outbox row is what guarantees that it goes out.
 * - One the queue gave up on without it being recorded (its workers kept dying) is recorded as failed.
 * One waiting for its next try is in the queue (delayed) and left alone. Answers how many it set right.
 */
export async function reconcileWebhookDeliveries(
  deps: {
    deliveries: Pick<WebhooksRepository, 'unfinishedBefore'>;
    recorder: Pick<WebhookDeliveryRecorder, 'markFailed'>;
    queues: Pick<QueueRepository, 'state' | 'add'>;
    logger: Logger;
  },
  graceMs: number,
): Promise<number> {
  const before = new Date(Date.now() - graceMs);
  let fixed = 0;
  let after: { id: string; updatedAt: Date } | undefined;
  for (;;) {
    const page = await deps.deliveries.unfinishedBefore(before, BATCH, after);
    for (const { id } of page) {
      const request = { name: 'deliver-webhook', payload: { jobId: id } } as const;
      const queued = await deps.queues.state(request);
      if (!queued) {
        deps.logger.warn({ deliveryId: id }, 'webhook delivery missing from its queue; queueing it');
        await deps.queues.add(request);
        fixed++;
      } else if (queued.state === 'failed') {
        const message = queued.failedReason || 'the queue gave up on this delivery';
        deps.logger.warn({ deliveryId: id, reason: message }, 'webhook delivery failed in its queue; recording it');
        await deps.recorder.markFailed({ jobId: id }, { code: 'internal', message, retryable: false });
        fixed++;
      }
    }
    if (page.length < BATCH) return fixed;
    after = page.at(-1);
  }
}
