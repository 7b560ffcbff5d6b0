import { randomBytes } from 'node:crypto';
import type { WebhookDeliveryView, WebhooksRepository, WebhookView } from '@mediaflow/db';
import { WEBHOOK_EVENTS, type WebhookEvent } from '@mediaflow/domain';
import { checkWebhookUrl, type ResolveHost, type WebhookUrlPolicy, WebhookUrlRefused } from '@mediaflow/providers';
import { HttpError } from './errors.ts';

/** Webhooks one user may have at once: each job's end is sent to every one of them. */
export const MAX_WEBHOOKS_PER_USER = 20;
/** Deliveries listed per webhook: the latest. */
export const DELIVERIES_LISTED = 100;

/** A webhook just registered: the only answer that shows its secret. */
export interface RegisteredWebhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  secret: string;
}

export interface WebhooksDeps {
  webhooks: Pick<WebhooksRepository, 'create' | 'listForOwner' | 'deleteForOwner' | 'deliveriesForOwner'>;
  policy: WebhookUrlPolicy;
  /** How the SSRF guard resolves a host name (dns.lookup); tests give a table, so that no DNS server is asked. */
  resolve?: ResolveHost;
}

/**
 * A user's webhooks: endpoints told (Standard Webhooks, signed with the webhook's secret) when their jobs
 * complete or fail. A URL is registered only when the SSRF guard lets it through (https:, every address
 * public); the notifier checks it again before each delivery. Another user's webhook is not found.
 */
export class Webhooks {
  private readonly deps: WebhooksDeps;

  constructor(deps: WebhooksDeps) {
    this.deps = deps;
  }

  async register(ownerId: string, input: { url: string; events?: WebhookEvent[] }): Promise<RegisteredWebhook> {
    const events = WEBHOOK_EVENTS.filter((event) => (input.events ?? WEBHOOK_EVENTS).includes(event));
    if (events.length === 0) throw new HttpError(400, 'invalid_input', 'events must name at least one event');
    if ((await this.deps.webhooks.listForOwner(ownerId)).length >= MAX_WEBHOOKS_PER_USER) {
      throw new HttpError(
        409,
        'conflict',
        `you have ${MAX_WEBHOOKS_PER_USER} webhooks, the most allowed: delete one before adding another`,
      );
    }
    try {
      await checkWebhookUrl(input.url, this.deps.policy, this.deps.resolve);
    } catch (error) {
      if (error instanceof WebhookUrlRefused) throw new HttpError(400, 'invalid_input', `url: ${error.message}`);
      throw error;
    }
    const secret = newSecret();
    const webhook = await this.deps.webhooks.create({ ownerId, url: input.url, events, secret });
    return { id: webhook.id, url: webhook.url, events: webhook.events, secret };
  }

  list(ownerId: string): Promise<WebhookView[]> {
    return this.deps.webhooks.listForOwner(ownerId);
  }

  /** Deletes the webhook: it gets no new deliveries, and its pending ones are not sent. */
  async delete(ownerId: string, id: string): Promise<void> {
    if (!(await this.deps.webhooks.deleteForOwner(id, ownerId))) throw notFound(id);
  }

  /** The webhook's latest deliveries, newest first, with each one's last attempt. */
  async deliveries(ownerId: string, id: string): Promise<WebhookDeliveryView[]> {
    const deliveries = await this.deps.webhooks.deliveriesForOwner(id, ownerId, DELIVERIES_LISTED);
    if (!deliveries) throw notFound(id);
    return deliveries;
  }
}

/** A Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes (192 bits). */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'not_found', `no webhook ${id}`);
}
