import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.ts';

const id = '3f2c9a1e-8b4d-4c6f-9e2a-1b3c5d7e9f00';

describe('cursor', () => {
  it('decodes what it encoded', () => {
    const at = new Date('2024-05-06T07:08:09.123Z');
    const cursor = encodeCursor({ createdAt: at, id });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ createdAt: at, id });
  });

  it('is undefined for anything it did not hand out', () => {
    const encode = (text: string) => Buffer.from(text).toString('base64url');
    expect(decodeCursor('')).toBeUndefined();
    expect(decodeCursor('not a cursor')).toBeUndefined();
    expect(decodeCursor(encode(`2024-05-06T07:08:09.123Z`))).toBeUndefined();
    expect(decodeCursor(encode(`yesterday|${id}`))).toBeUndefined();
    expect(decodeCursor(encode('2024-05-06T07:08:09.123Z|42'))).toBeUndefined();
    expect(decodeCursor(encode(`2024-05-06T07:08:09.123Z|${id}'; drop table posts; --`))).toBeUndefined();
  });
});
