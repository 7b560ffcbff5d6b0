import { type Cursor, decodeCursor, encodeCursor } from '@mediaflow/db';
import { HttpError } from './errors.ts';

/** Which page a list asks for: the `nextCursor` of the page before (none for the first), and its size. */
export interface PageRequest {
  cursor?: string;
  limit: number;
}

export interface Page<Item> {
  items: Item[];
  nextCursor: string | null;
}

/** The position a page starts after; 400 for a cursor this API did not hand out. */
export function readCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  const after = decodeCursor(cursor);
  if (!after) throw new HttpError(400, 'invalid_input', 'cursor is not one this API handed out');
  return after;
}

/** A full page may have more after it; a short one is the last. */
export function pageOf<Row extends Cursor>(rows: Row[], limit: number): Page<Row> {
  const last = rows.at(-1);
  return { items: rows, nextCursor: rows.length === limit && last ? encodeCursor(last) : null };
}
