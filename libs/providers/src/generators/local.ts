import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { DEFAULT_SIZES } from '../images/sizes.ts';
import type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './image-generator.ts';

/**
 * LOCAL STAND-IN for Gemini, used when GEMINI_API_KEY is unset: draws a real JPEG of the asked aspect
 * ratio with the prompt written on it, so the whole pipeline runs on a machine with no credentials.
 */
export class LocalImageGenerator implements ImageGenerator {
  readonly model = 'local-placeholder';

  async generate(request: GenerateImageRequest): Promise<GeneratedImage> {
    const { width, height } = DEFAULT_SIZES[request.aspectRatio];
    const hue = createHash('sha256').update(request.prompt).digest()[0] ?? 0;
    const fontSize = Math.round(Math.min(width, height) / 18);
    const lines = wrap(request.prompt.split('\n\n')[0] ?? '', Math.floor((width * 0.8) / (fontSize * 0.55))).slice(
      0,
      8,
    );
    const text = lines
      .map((line, i) => `<tspan x="50%" dy="${i === 0 ? 0 : 1.25}em">${escapeXml(line)}</tspan>`)
      .join('');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="hsl(${hue}, 60%, 35%)"/><stop offset="1" stop-color="hsl(${(hue + 60) % 360}, 60%, 20%)"/>
  </linearGradient></defs>
  <rect width="100%" height="100%" fill="url(#g)"/>
  <text x="50%" y="${Math.round(height / 2 - (lines.length - 1) * fontSize * 0.6)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="white" text-anchor="middle">${text}</text>
  <text x="50%" y="${height - fontSize}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(fontSize / 2)}" fill="white" fill-opacity="0.7" text-anchor="middle">mediaflow local generator · ${request.aspectRatio}</text>
</svg>`;
    const data = await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
    return { data, mimeType: 'image/jpeg' };
  }
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word.slice(0, width);
  }
  if (line) lines.push(line);
  return lines;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
