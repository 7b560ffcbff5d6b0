import type { HandlerMap } from '@mediaflow/queue';
import { deliverWebhook, type NotifierDeps } from './deliver-webhook.ts';

/** Every job kind of the webhooks queue, with its handler. */
export const handlers: HandlerMap<'webhooks', NotifierDeps> = {
  'deliver-webhook': deliverWebhook,
};
