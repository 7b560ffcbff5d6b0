import type { WebhooksRepository } from '@mediaflow/db';
import type { JobChange, QueueRepository } from '@mediaflow/queue';

/**
 * The worker runtime's listener that sends a job's webhooks once its end is committed: the commit wrote
 * the deliveries (the outbox, JobsRepository.markCompleted/markFailed), and this queues one deliver-webhook
 * job per delivery still pending (its BullMQ id is the delivery's, so queueing it twice sends it once).
 * Should this fail (Redis away), the reconciler queues them later: none is lost.
 */
export function dispatchWebhooks(deps: {
  deliveries: Pick<WebhooksRepository, 'pendingForJob'>;
  queues: Pick<QueueRepository, 'add'>;
}): (change: JobChange) => Promise<void> {
  return async (change) => {
    if (!change.ended) return;
    for (const id of await deps.deliveries.pendingForJob(change.ref.jobId)) {
      await deps.queues.add({ name: 'deliver-webhook', payload: { jobId: id } });
    }
  };
}
