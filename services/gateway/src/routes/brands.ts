import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/errors.ts';
import { idempotentRequest, sendAnswer } from '../http/idempotency.ts';
import type { Brands } from '../services/brands.ts';
import type { Idempotency } from '../services/idempotency.ts';
import { Text } from './schemas.ts';

const Brand = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() });

/** Brands group posts; their members post for them and read their posts. */
export const brandsRoutes: FastifyPluginAsyncTypebox<{ brands: Brands; idempotency: Idempotency }> = async (
  app,
  options,
) => {
  app.post(
    '/brands',
    {
      schema: {
        summary: 'Create a brand; you become its first member',
        tags: ['brands'],
        body: Type.Object(
          { name: Text({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false, examples: [{ name: 'Harbour Coffee' }] },
        ),
        response: { 201: Brand, ...errorResponses(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      const answer = await options.idempotency.run(idempotentRequest(request), async () => ({
        status: 201,
        body: await options.brands.create(request.userId, request.body.name),
      }));
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/brands',
    {
      schema: {
        summary: 'The brands you are a member of',
        tags: ['brands'],
        response: { 200: Type.Object({ items: Type.Array(Brand) }), ...errorResponses(401) },
      },
    },
    async (request) => ({ items: await options.brands.list(request.userId) }),
  );
};
