import type { ResourceType } from '@mediaflow/domain';

export interface MediaKind {
  resourceType: ResourceType;
  /** Extension the stored file gets. */
  format: 'jpg' | 'png' | 'webp' | 'gif' | 'mp4' | 'mov' | 'webm';
  mimeType: string;
}

/** Enough leading bytes to tell every kind below apart. */
export const SNIFF_BYTES = 16;

/**
 * The kind of an uploaded file, from its first bytes (never from its name or declared type):
 * JPEG, PNG, WebP and GIF images; MP4, MOV and WebM videos. Undefined for anything else.
 */
export function sniffMediaKind(head: Buffer): MediaKind | undefined {
  const ascii = (start: number, end: number) => head.toString('latin1', start, end);
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return image('jpg', 'image/jpeg');
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG)) return image('png', 'image/png');
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return image('webp', 'image/webp');
  if (head.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return image('gif', 'image/gif');
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') {
    return ascii(8, 12) === 'qt  '
      ? { resourceType: 'video', format: 'mov', mimeType: 'video/quicktime' }
      : { resourceType: 'video', format: 'mp4', mimeType: 'video/mp4' };
  }
  if (head.length >= 4 && head.subarray(0, 4).equals(EBML))
    return { resourceType: 'video', format: 'webm', mimeType: 'video/webm' };
  return undefined;
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const EBML = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

function image(format: MediaKind['format'], mimeType: string): MediaKind {
  return { resourceType: 'image', format, mimeType };
}
