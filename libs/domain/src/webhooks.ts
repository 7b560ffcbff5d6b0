/** What a webhook can be told of: its owner's jobs ending. The payload is the job's status JSON. */
export const WEBHOOK_EVENTS = ['job.completed', 'job.failed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * A delivery's state: `pending` (waiting to be sent, or for its next try), `delivering` (an attempt is
 * under way), `delivered` (a 2xx answer), `failed` (every attempt failed, or it can never succeed).
 */
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** The event a job's end sends: completed or failed. */
export function webhookEventOf(ended: 'completed' | 'failed'): WebhookEvent {
  return ended === 'completed' ? 'job.completed' : 'job.failed';
}
