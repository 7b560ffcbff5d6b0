import { describe, expect, it } from 'vitest';
import { sniffMediaKind } from './media-kind.ts';

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

describe('sniffMediaKind', () => {
  it.each([
    ['JPEG', bytes([0xff, 0xd8, 0xff, 0xe0], 'JFIF'), 'image', 'jpg'],
    ['PNG', bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'image', 'png'],
    ['WebP', bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '), 'image', 'webp'],
    ['GIF', bytes('GIF89a', [1, 0]), 'image', 'gif'],
    ['MP4', bytes([0, 0, 0, 0x20], 'ftypisom', [0, 0, 2, 0]), 'video', 'mp4'],
    ['MOV', bytes([0, 0, 0, 0x14], 'ftypqt  ', [0, 0, 0, 0]), 'video', 'mov'],
    ['WebM', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'video', 'webm'],
  ])('knows %s by its bytes', (_name, head, resourceType, format) => {
    expect(sniffMediaKind(head)).toMatchObject({ resourceType, format });
  });

  it.each([
    ['HTML named .jpg', bytes('<!doctype html><html>')],
    ['a PDF', bytes('%PDF-1.7\n')],
    ['nothing', Buffer.alloc(0)],
    ['a truncated JPEG marker', bytes([0xff, 0xd8])],
  ])('rejects %s', (_name, head) => {
    expect(sniffMediaKind(head)).toBeUndefined();
  });
});
