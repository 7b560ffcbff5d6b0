import type { AspectRatio } from '@mediaflow/domain';
import sharp from 'sharp';
import { ratioValue } from './aspect-ratio.ts';

/**
 * How far off the asked ratio an image may be before it is cropped. Gemini's own sizes for a ratio are
 * up to 2.8% off it (1184x864 for 4:3, 1344x768 for 16:9); anything further is another ratio.
 */
const RATIO_TOLERANCE = 0.03;
const JPEG_QUALITY = 92;

export interface JpegImage {
  data: Buffer;
  width: number;
  height: number;
  /** True when the image came back at another ratio and was center-cropped to the asked one. */
  cropped: boolean;
}

/**
 * Turns a model's image into the JPEG that is stored: upright, center-cropped to the asked ratio when the
 * model drew another one (a known failure of image models), metadata stripped.
 */
export async function toJpegAtRatio(data: Buffer, ratio: AspectRatio): Promise<JpegImage> {
  const upright = sharp(data).rotate();
  const { width, height } = (await sharp(data).metadata()).autoOrient;
  const crop = centerCrop(width, height, ratio);
  const pipeline = crop ? upright.extract(crop) : upright;
  const jpeg = await pipeline.jpeg({ quality: JPEG_QUALITY }).toBuffer({ resolveWithObject: true });
  return { data: jpeg.data, width: jpeg.info.width, height: jpeg.info.height, cropped: crop !== undefined };
}

/** The largest centered region of the asked ratio, or undefined when the image is already close enough. */
export function centerCrop(
  width: number,
  height: number,
  ratio: AspectRatio,
): { left: number; top: number; width: number; height: number } | undefined {
  const want = ratioValue(ratio);
  if (Math.abs(width / height / want - 1) <= RATIO_TOLERANCE) return undefined;
  if (width / height > want) {
    const cropWidth = Math.round(height * want);
    return { left: Math.floor((width - cropWidth) / 2), top: 0, width: cropWidth, height };
  }
  const cropHeight = Math.round(width / want);
  return { left: 0, top: Math.floor((height - cropHeight) / 2), width, height: cropHeight };
}

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** Reads an image's kind and upright size from its bytes; undefined when it is not a JPEG, PNG or WebP image. */
export async function inspectImage(
  data: Buffer,
): Promise<{ format: ImageFormat; width: number; height: number } | undefined> {
  const format = sniffImageFormat(data);
  if (!format) return undefined;
  try {
    const { autoOrient } = await sharp(data).metadata();
    return { format, width: autoOrient.width, height: autoOrient.height };
  } catch {
    // the magic bytes lied: not a decodable image
    return undefined;
  }
}

/** File kinds are decided by content, never by name or declared type. */
export function sniffImageFormat(data: Buffer): ImageFormat | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'png';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP')
    return 'webp';
  return undefined;
}
