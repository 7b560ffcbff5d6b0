import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { BrandsRepository } from '@mediaflow/db';
import { Type } from 'typebox';
import { errorResponses, HttpError } from '../errors.ts';
import { Text } from '../schemas.ts';

const Brand = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() });

/** Brands group posts; their members post for them and read their posts. */
export const brandsRoutes: FastifyPluginAsyncTypebox<{ brands: BrandsRepository }> = async (app, options) => {
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
      const name = request.body.name.trim();
      if (!name) throw new HttpError(400, 'invalid_input', 'name must not be blank');
      return reply.code(201).send(await options.brands.create(name, request.userId));
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
    async (request) => ({ items: await options.brands.listForMember(request.userId) }),
  );
};
