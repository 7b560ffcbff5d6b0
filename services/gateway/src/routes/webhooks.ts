import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_EVENTS,
  type WebhookDeliveryStatus,
  type WebhookEvent,
} from '@mediaflow/domain';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import type { Idempotency } from '../services/idempotency.ts';
import { DELIVERIES_LISTED, MAX_WEBHOOKS_PER_USER, type Webhooks } from '../services/webhooks.ts';

const WebhookEventSchema = Type.Unsafe<WebhookEvent>({
  type: 'string',
  enum: [...WEBHOOK_EVENTS],
  description: `One of ${WEBHOOK_EVENTS.join(', ')}.`,
});
const Events = Type.Array(WebhookEventSchema, {
  minItems: 1,
  maxItems: WEBHOOK_EVENTS.length,
  uniqueItems: true,
  description: 'The events sent to it.',
});
const WebhookId = Type.String({ format: 'uuid' });

const Webhook = Type.Object({
  id: WebhookId,
  url: Type.String(),
  events: Events,
  createdAt: Type.String({ format: 'date-time' }),
});

const RegisteredWebhook = Type.Object(
  {
    id: WebhookId,
    url: Type.String(),
    events: Events,
    secret: Type.String({
      description:
        'The signing secret (`whsec_` and base64): shown in this answer only. Verify each delivery with it, e.g. `new Webhook(secret).verify(body, headers)` from the standardwebhooks package.',
    }),
  },
  {
    examples: [
      {
        id: '6f1c2a4e-0d1b-4c9a-9a53-2b8f3e1d7c40',
        url: 'https://hooks.example.com/mediaflow',
        events: ['job.completed', 'job.failed'],
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      },
    ],
  },
);

const Delivery = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Also the webhook-id header of every attempt.' }),
  event: WebhookEventSchema,
  jobId: Type.String({ format: 'uuid' }),
  status: Type.Unsafe<WebhookDeliveryStatus>({
    type: 'string',
    enum: [...WEBHOOK_DELIVERY_STATUSES],
    description: 'pending (waiting for its next try), delivering, delivered (a 2xx answer), failed (gave up).',
  }),
  attempt: Type.Integer({ minimum: 0, description: 'Attempts started so far.' }),
  statusCode: Type.Union([Type.Integer(), Type.Null()], {
    description: "The last attempt's HTTP status; null when it got no answer (or none was made yet).",
  }),
  durationMs: Type.Union([Type.Integer(), Type.Null()], { description: 'How long the last attempt took.' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt failed.' }),
  createdAt: Type.String({ format: 'date-time' }),
});

/**
 * Webhooks (Standard Webhooks): a user's endpoints, told when their jobs complete or fail. The payload is
 * the job's status JSON, as GET /api/jobs/:id answers it.
 */
export const webhooksRoutes: FastifyPluginAsyncTypebox<{ webhooks: Webhooks; idempotency: Idempotency }> = async (
  app,
  options,
) => {
  app.post(
    '/webhooks',
    {
      schema: {
        summary: 'Register a webhook for your jobs',
        description: `Your jobs' ends are POSTed to \`url\` (\`job.completed\`, \`job.failed\`; both unless \`events\` says otherwise): the body is the job's status JSON, as GET /api/jobs/:id answers it, with the Standard Webhooks headers \`webhook-id\` (the same on every attempt of a delivery), \`webhook-timestamp\` and \`webhook-signature\`. Answer 2xx within 10 s; anything else (a redirect included: none is followed) is retried with exponential backoff for about 24 h. The URL must be https: and every address its host resolves to public (checked now and before each delivery). The answer is the only one that shows the signing \`secret\`. At most ${MAX_WEBHOOKS_PER_USER} webhooks per user.`,
        tags: ['webhooks'],
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048, description: 'https: URL to POST to.' }),
            events: Type.Optional(Events),
          },
          { additionalProperties: false, examples: [{ url: 'https://hooks.example.com/mediaflow' }] },
        ),
        response: { 201: RegisteredWebhook, ...errorResponses(400, 401, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const answer = await options.idempotency.run(idempotentRequest(request), async () => ({
        status: 201,
        body: await options.webhooks.register(request.userId, request.body),
      }));
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/webhooks',
    {
      schema: {
        summary: 'Your webhooks',
        description: 'Oldest first; never their secrets.',
        tags: ['webhooks'],
        response: { 200: Type.Object({ items: Type.Array(Webhook) }), ...errorResponses(401) },
      },
    },
    async (request) => ({
      items: (await options.webhooks.list(request.userId)).map((webhook) => ({
        ...webhook,
        createdAt: webhook.createdAt.toISOString(),
      })),
    }),
  );

  app.delete(
    '/webhooks/:webhookId',
    {
      schema: {
        summary: 'Delete a webhook',
        description: "It gets no more deliveries, and those not yet sent are dropped. Another user's webhook is 404.",
        tags: ['webhooks'],
        params: Type.Object({ webhookId: WebhookId }),
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await options.webhooks.delete(request.userId, request.params.webhookId);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:webhookId/deliveries',
    {
      schema: {
        summary: "A webhook's deliveries",
        description: `The latest ${DELIVERIES_LISTED}, newest first, each with its last attempt's status code, duration and error. Another user's webhook is 404.`,
        tags: ['webhooks'],
        params: Type.Object({ webhookId: WebhookId }),
        response: { 200: Type.Object({ items: Type.Array(Delivery) }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => ({
      items: (await options.webhooks.deliveries(request.userId, request.params.webhookId)).map((delivery) => ({
        ...delivery,
        createdAt: delivery.createdAt.toISOString(),
      })),
    }),
  );
};
