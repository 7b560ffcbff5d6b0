import { rename } from 'node:fs/promises';
import { type MediaKind, sniffMediaKind } from '@mediaflow/providers';
import sharp, { type Metadata } from 'sharp';
import { HttpError } from './errors.ts';
import type { LocalFile } from './media-intake.ts';

/**
 * The checks every file a client sends goes through, whether it came in a multipart form or as a
 * resumable upload: its kind from its first bytes, its size against that kind's limit, an image's pixels
 * from its header, and EXIF removed.
 */
export interface FileLimits {
  maxImageBytes: number;
  maxImagePixels: number;
  maxVideoBytes: number;
}

export type ResourceType = MediaKind['resourceType'];

/** The kind of a file from its first bytes; 415 when it is none that `accepts` allows. */
export function kindOf(head: Buffer, field: string, accepts: ResourceType[]): MediaKind {
  const kind = sniffMediaKind(head);
  if (!kind || !accepts.includes(kind.resourceType)) throw unsupported(field, accepts);
  return kind;
}

export function unsupported(field: string, accepts: ResourceType[]): HttpError {
  const kinds = accepts
    .map((kind) => (kind === 'image' ? 'a JPEG, PNG, WebP or GIF image' : 'an MP4, MOV or WebM video'))
    .join(' or ');
  return new HttpError(415, 'unsupported_media_type', `"${field}" must be ${kinds}`);
}

export function maxBytesOf(resourceType: ResourceType, limits: FileLimits): number {
  return resourceType === 'video' ? limits.maxVideoBytes : limits.maxImageBytes;
}

/** 413 when `bytes` is over the limit of `resourceType`. */
export function checkSize(field: string, resourceType: ResourceType, bytes: number, limits: FileLimits): void {
  const max = maxBytesOf(resourceType, limits);
  if (bytes > max) {
    throw new HttpError(413, 'payload_too_large', `"${field}" is over the ${resourceType} limit of ${megabytes(max)}`);
  }
}

export function megabytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

/** Formats whose EXIF is removed by re-encoding (GIF carries none worth the risk to its animation). */
const REENCODABLE = { jpg: 'jpeg', png: 'png', webp: 'webp' } as const;

/**
 * Reads an image's size from its header (so a decompression bomb is refused before it is decoded) and
 * removes EXIF metadata, which can carry the place a photo was taken, before the file goes anywhere.
 * Sets the file's width and height. Without EXIF the file is left as it is and the answer is undefined;
 * with it, the image without it is written to `into` (the file itself by default) and its size returned.
 */
export async function inspectImage(file: LocalFile, limits: FileLimits, into = file.path): Promise<number | undefined> {
  let metadata: Metadata;
  try {
    metadata = await sharp(file.path).metadata();
  } catch {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `"${file.field}" looks like ${file.kind.format} but cannot be read as an image`,
    );
  }
  const { width, height } = metadata.autoOrient;
  if (width * height > limits.maxImagePixels) {
    throw new HttpError(
      413,
      'payload_too_large',
      `"${file.field}" is over ${limits.maxImagePixels} pixels; send a smaller image`,
    );
  }
  Object.assign(file, { width, height });
  const output = REENCODABLE[file.kind.format as keyof typeof REENCODABLE];
  if (!metadata.exif || !output) return undefined;
  const stripped = `${into}.stripped`;
  // rotate() applies the EXIF orientation first, so the picture stays upright without it.
  const info = await sharp(file.path).rotate().keepIccProfile().toFormat(output, { quality: 95 }).toFile(stripped);
  await rename(stripped, into);
  return info.size;
}
