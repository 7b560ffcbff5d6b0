export { DeliveryFailed, deliverWebhook, type NotifierDeps, WEBHOOK_TIMEOUT_MS } from './deliver-webhook.ts';
export { handlers } from './handlers.ts';
export { notifierService } from './service.ts';
