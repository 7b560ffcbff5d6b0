// Just enough of the video containers to tell a video from other bytes and, for MP4/MOV, read the
// duration and frame size the real services report. No decoding: fakes store and serve the bytes.

export type VideoInfo = { format: string; duration?: number; width?: number; height?: number };

// ISO-BMFF brands that are still images (AVIF, HEIF), not videos.
const IMAGE_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'mif1', 'msf1']);

// Undefined when the bytes are not a container we know (MP4/MOV, WebM/Matroska, AVI).
export function probeVideo(bytes: Buffer): VideoInfo | undefined {
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') {
    const brand = bytes.toString('latin1', 8, 12);
    if (IMAGE_BRANDS.has(brand)) return undefined;
    return { format: brand === 'qt  ' ? 'mov' : 'mp4', ...movieHeader(bytes) };
  }
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x1a45dfa3) {
    return { format: bytes.subarray(0, 64).includes('webm') ? 'webm' : 'mkv' };
  }
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'AVI ') {
    return { format: 'avi' };
  }
  return undefined;
}

type Box = { type: string; start: number; body: number; end: number };

function* boxes(bytes: Buffer, from: number, to: number): Generator<Box> {
  let start = from;
  while (start + 8 <= to) {
    const size32 = bytes.readUInt32BE(start);
    const type = bytes.toString('latin1', start + 4, start + 8);
    let body = start + 8;
    let size = size32;
    if (size32 === 1 && start + 16 <= to) {
      size = Number(bytes.readBigUInt64BE(start + 8));
      body = start + 16;
    } else if (size32 === 0) {
      size = to - start;
    }
    if (size < body - start) return;
    const end = Math.min(start + size, to);
    yield { type, start, body, end };
    start = start + size;
  }
}

// mvhd gives the duration, the first tkhd with a frame size gives width and height.
function movieHeader(bytes: Buffer): Omit<VideoInfo, 'format'> {
  const info: Omit<VideoInfo, 'format'> = {};
  const moov = [...boxes(bytes, 0, bytes.length)].find((box) => box.type === 'moov');
  if (!moov) return info;
  for (const box of boxes(bytes, moov.body, moov.end)) {
    if (box.type === 'mvhd' && box.end - box.body >= 32) {
      const v1 = bytes[box.body] === 1;
      const timescale = bytes.readUInt32BE(box.body + (v1 ? 20 : 12));
      const duration = v1 ? Number(bytes.readBigUInt64BE(box.body + 24)) : bytes.readUInt32BE(box.body + 16);
      if (timescale > 0) info.duration = Math.round((duration / timescale) * 1000) / 1000;
    }
    if (box.type === 'trak' && info.width === undefined) {
      const tkhd = [...boxes(bytes, box.body, box.end)].find((inner) => inner.type === 'tkhd');
      if (tkhd && tkhd.end - tkhd.body >= 84) {
        const width = Math.round(bytes.readUInt32BE(tkhd.end - 8) / 65536);
        const height = Math.round(bytes.readUInt32BE(tkhd.end - 4) / 65536);
        if (width > 0 && height > 0) Object.assign(info, { width, height });
      }
    }
  }
  return info;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + parts.reduce((sum, part) => sum + part.length, 0));
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, ...parts]);
}

const IDENTITY_MATRIX = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];

/**
 * The skeleton of an MP4 (ftyp, moov with mvhd and one tkhd, mdat) that probeVideo — and so the
 * fakes — read as a video of that duration and size; `bytes` pads mdat with a non-repeating-by-chunk
 * pattern to reach a total size. Not playable: for tests that move video bytes around.
 */
export function fakeMp4(opts: { seconds?: number; width?: number; height?: number; bytes?: number } = {}): Buffer {
  const { seconds = 1, width = 320, height = 240 } = opts;
  const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2mp41', 'latin1'));

  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale
  mvhd.writeUInt32BE(Math.round(seconds * 1000), 16);
  mvhd.writeUInt32BE(0x10000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x100, 24); // volume 1.0
  IDENTITY_MATRIX.forEach((value, i) => {
    mvhd.writeUInt32BE(value, 36 + i * 4);
  });
  mvhd.writeUInt32BE(2, 96); // next track id

  const tkhd = Buffer.alloc(84);
  tkhd.writeUInt32BE(3, 0); // version 0, flags enabled|in movie
  tkhd.writeUInt32BE(1, 12); // track id
  tkhd.writeUInt32BE(Math.round(seconds * 1000), 20);
  IDENTITY_MATRIX.forEach((value, i) => {
    tkhd.writeUInt32BE(value, 40 + i * 4);
  });
  tkhd.writeUInt32BE(width * 65536, 76);
  tkhd.writeUInt32BE(height * 65536, 80);

  const moov = box('moov', box('mvhd', mvhd), box('trak', box('tkhd', tkhd)));
  const padding = Math.max(0, (opts.bytes ?? 0) - ftyp.length - moov.length - 8);
  const data = Buffer.alloc(padding);
  for (let i = 0; i < padding; i++) data[i] = (i * 7 + (i >> 10)) % 251;
  return Buffer.concat([ftyp, moov, box('mdat', data)]);
}
