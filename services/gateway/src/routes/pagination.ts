import { type TSchema, Type } from 'typebox';

export const DEFAULT_PAGE_SIZE = 20;

/** Query fields every list route takes. */
export const PageQuery = {
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page.' })),
  limit: Type.Optional(
    Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: `1 to 100; ${DEFAULT_PAGE_SIZE} when absent.` }),
  ),
};

/** The page size asked for: query strings are not coerced, so `limit` arrives as digits. */
export function pageSize(limit: string | undefined): number {
  return limit === undefined ? DEFAULT_PAGE_SIZE : Number(limit);
}

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
