import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { centerCrop, inspectImage, toJpegAtRatio } from './jpeg.ts';

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();

describe('centerCrop', () => {
  it("leaves Gemini's own sizes for a ratio alone", () => {
    expect(centerCrop(1344, 768, '16:9')).toBeUndefined();
    expect(centerCrop(1184, 864, '4:3')).toBeUndefined();
    expect(centerCrop(864, 1184, '3:4')).toBeUndefined();
    expect(centerCrop(1024, 1024, '1:1')).toBeUndefined();
  });
  it('cuts the sides of a too-wide image, centered', () => {
    expect(centerCrop(2000, 1000, '1:1')).toEqual({ left: 500, top: 0, width: 1000, height: 1000 });
  });
  it('cuts top and bottom of a too-tall image, centered', () => {
    expect(centerCrop(900, 1600, '4:3')).toEqual({ left: 0, top: 462, width: 900, height: 675 });
  });
});

describe('toJpegAtRatio', () => {
  it('encodes a model PNG as JPEG without cropping when the ratio is right', async () => {
    const result = await toJpegAtRatio(await png(1344, 756), '16:9');
    expect(result).toMatchObject({ width: 1344, height: 756, cropped: false });
    expect((await sharp(result.data).metadata()).format).toBe('jpeg');
  });
  it('center-crops an image that came back square when 16:9 was asked', async () => {
    const result = await toJpegAtRatio(await png(1024, 1024), '16:9');
    expect(result).toMatchObject({ width: 1024, height: 576, cropped: true });
  });
});

describe('inspectImage', () => {
  it('reads format and size from the bytes', async () => {
    expect(await inspectImage(await png(30, 20))).toEqual({ format: 'png', width: 30, height: 20 });
  });
  it('rejects HTML named like an image and truncated images', async () => {
    expect(await inspectImage(Buffer.from('<html><body>hi</body></html>'))).toBeUndefined();
    expect(await inspectImage((await png(30, 20)).subarray(0, 20))).toBeUndefined();
  });
});
