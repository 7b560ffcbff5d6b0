import { JobsRepository, WebhookDeliveryRecorder, WebhooksRepository } from '@mediaflow/db';
import type { WorkerService } from '@mediaflow/runtime';
import type { NotifierDeps } from './deliver-webhook.ts';
import { handlers } from './handlers.ts';

/**
 * The notifier: sends webhook deliveries (queue `webhooks`), recording each attempt on its delivery row
 * rather than in the jobs table.
 */
export const notifierService: WorkerService<'notifier', NotifierDeps> = {
  service: 'notifier',
  handlers,
  concurrency: (config) => config.notifierConcurrency,
  // A call takes 10 s at most.
  shutdownDeadlineMs: 15_000,
  recorder: ({ db }) => new WebhookDeliveryRecorder(db),
  buildDeps: ({ config, db }) => ({
    deliveries: new WebhooksRepository(db),
    jobs: new JobsRepository(db),
    policy: { allowPrivate: config.webhooks.allowPrivate },
  }),
  describe: (deps) =>
    deps.policy.allowPrivate
      ? 'WEBHOOK_ALLOW_PRIVATE: http: and loopback receivers allowed (never in production)'
      : 'https: receivers at public addresses only',
};
