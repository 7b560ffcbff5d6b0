import { type Cursor, decodeCursor, encodeCursor } from '@mediaflow/db';
import { type TSchema, Type } from 'typebox';
import { HttpError } from '../errors.ts';

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

/** The position a page starts after; 400 for a cursor this API did not hand out. */
export function readCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  const after = decodeCursor(cursor);
  if (!after) throw new HttpError(400, 'invalid_input', 'cursor is not one this API handed out');
  return after;
}

/** A full page may have more after it; a short one is the last. */
export function pageOf<Row extends Cursor, Item>(rows: Row[], limit: number, toItem: (row: Row) => Item) {
  const last = rows.at(-1);
  return { items: rows.map(toItem), nextCursor: rows.length === limit && last ? encodeCursor(last) : null };
}
