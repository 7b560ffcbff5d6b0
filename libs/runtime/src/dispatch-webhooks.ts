import type { JobChange, QueueRepository } from '@mediaflow/queue';

/**
 * The worker runtime's listener that sends a job's webhooks once its end is committed: the commit wrote
 * the deliveries (the outbox, JobsRepository.markCompleted/markFailed/completeInCommit) and answered their
 * ids, and this queues one deliver-webhook job for each (its BullMQ id is the delivery's, so queueing it
 * twice sends it once). Should this fail (Redis away), the reconciler queues them later: none is lost.
 */
export function dispatchWebhooks(deps: { queues: Pick<QueueRepository, 'add'> }): (change: JobChange) => Promise<void> {
  return async (change) => {
    if (!change.ended) return;
    for (const id of change.deliveries ?? []) {
      await deps.queues.add({ name: 'deliver-webhook', payload: { jobId: id } });
    }
  };
}
