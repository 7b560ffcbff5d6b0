import sharp from 'sharp';

/** A real image of the given size and kind, made on the spot: tests ship no binary fixtures. */
export async function makeImage(
  width: number,
  height: number,
  format: 'jpeg' | 'png' | 'webp' = 'png',
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .toFormat(format)
    .toBuffer();
}

export async function imageSize(data: Buffer): Promise<{ format: string | undefined; width: number; height: number }> {
  const { format, width, height } = await sharp(data).metadata();
  return { format, width, height };
}
