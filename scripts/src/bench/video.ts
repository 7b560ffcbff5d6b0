import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '@mediaflow/db';
import { fakeMp4 } from '@mediaflow/testing';
import { Upload } from 'tus-js-client';
import type { Poster } from './pipeline.ts';
import { processMemoryMb } from './processes.ts';

const CHUNK = 256 * 1024;
const MB = 1024 * 1024;
const WARMUP_BYTES = 8 * MB;
const JOB_TIMEOUT_MS = 120_000;

export interface VideoResult {
  /** Peak resident memory during the upload, above what the process held just before it. */
  rssGrowthMb: number;
  /** From the first byte sent to the 202. */
  uploadSeconds: number;
  /** The upload was not answered 202, or its post did not complete. */
  errors: number;
}

/** How the video reaches the gateway: one multipart POST /api/posts, or tus chunks and then a post naming the upload. */
export type VideoRoute = 'multipart' | 'tus';

/** tus-js-client's chunk size in the benchmark: a phone's typical choice. */
export const TUS_CHUNK_BYTES = 5 * MB;

/**
 * Sends a `bytes`-byte video to the gateway process `pid` by `route`, until its post is accepted (202),
 * and measures how far the gateway's resident memory rises: VmHWM (peak RSS) is reset to the current RSS
 * just before the upload (/proc/<pid>/clear_refs), so VmHWM afterwards is the peak during it. A smaller
 * upload first warms the same code path, so that loading it is not counted.
 */
export async function streamVideo(
  gatewayUrl: string,
  pid: number,
  db: Db,
  poster: Poster,
  bytes: number,
  route: VideoRoute = 'multipart',
): Promise<VideoResult> {
  const send = route === 'multipart' ? upload : uploadResumably;
  const warmup = await send(gatewayUrl, poster, WARMUP_BYTES);
  if (warmup.status !== 202) throw new Error(`the warm-up video upload answered ${warmup.status}`);
  // The warm-up's answer is sent before its spool file is removed: let that finish first.
  await sleep(500);
  const before = await processMemoryMb(pid, 'VmRSS');
  await writeFile(`/proc/${pid}/clear_refs`, '5');
  const started = performance.now();
  const { status, jobId } = await send(gatewayUrl, poster, bytes);
  const uploadSeconds = (performance.now() - started) / 1000;
  const peak = await processMemoryMb(pid, 'VmHWM');
  const completed = status === 202 && (await untilCompleted(db, jobId));
  return { rssGrowthMb: peak - before, uploadSeconds, errors: completed ? 0 : 1 };
}

/** The video through tus (/api/uploads) in TUS_CHUNK_BYTES chunks, then a post naming the upload. */
async function uploadResumably(
  gatewayUrl: string,
  poster: Poster,
  bytes: number,
): Promise<{ status: number; jobId: string }> {
  const url = await new Promise<string>((resolve, reject) => {
    const tus: Upload = new Upload(Readable.from(videoBytes(bytes)), {
      endpoint: `${gatewayUrl}/api/uploads`,
      uploadSize: bytes,
      chunkSize: TUS_CHUNK_BYTES,
      headers: { authorization: `Bearer ${poster.token}` },
      metadata: { filename: 'big.mp4', filetype: 'video/mp4' },
      onError: reject,
      onSuccess: () => resolve(tus.url ?? ''),
    });
    tus.start();
  });
  const form = new FormData();
  form.append('caption', 'benchmark video');
  form.append('brandId', poster.brandId);
  form.append('uploadId', url.split('/').at(-1) ?? '');
  const response = await fetch(`${gatewayUrl}/api/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${poster.token}`, 'idempotency-key': randomUUID() },
    body: form,
  });
  const { jobId } = (await response.json()) as { jobId: string };
  return { status: response.status, jobId };
}

async function upload(gatewayUrl: string, poster: Poster, bytes: number): Promise<{ status: number; jobId: string }> {
  const boundary = `mediaflow-bench-${randomUUID()}`;
  const response = await fetch(`${gatewayUrl}/api/posts`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${poster.token}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'idempotency-key': randomUUID(),
    },
    body: multipart(boundary, poster.brandId, bytes),
    duplex: 'half',
  });
  const { jobId } = (await response.json()) as { jobId: string };
  return { status: response.status, jobId };
}

/** A multipart post whose video is made as it is sent: this process never holds more than a chunk of it. */
async function* multipart(boundary: string, brandId: string, bytes: number): AsyncGenerator<Uint8Array> {
  yield Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nbenchmark video\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="brandId"\r\n\r\n${brandId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
  );
  yield* videoBytes(bytes);
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** A `bytes`-byte MP4-shaped video, made as it is read. */
function* videoBytes(bytes: number): Generator<Buffer> {
  const head = mp4Head(bytes);
  yield head;
  const chunk = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 7 + (i >> 10)) % 251;
  for (let left = bytes - head.length; left > 0; left -= CHUNK) yield left >= CHUNK ? chunk : chunk.subarray(0, left);
}

/**
 * The test fakes' MP4 skeleton (ftyp, moov with the movie's duration and frame size), its empty mdat
 * header swapped for one announcing the rest of a `total`-byte file: what follows is that mdat's body.
 */
function mp4Head(total: number): Buffer {
  const skeleton = fakeMp4({ seconds: 120, width: 1920, height: 1080 });
  const mdat = Buffer.alloc(8);
  mdat.writeUInt32BE(total - skeleton.length + 8);
  mdat.write('mdat', 4, 'latin1');
  return Buffer.concat([skeleton.subarray(0, skeleton.length - 8), mdat]);
}

/** True once the job has completed, false if it failed or time ran out. */
async function untilCompleted(db: Db, jobId: string): Promise<boolean> {
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const job = await db.selectFrom('jobs').select('status').where('id', '=', jobId).executeTakeFirst();
    if (job?.status === 'completed' || job?.status === 'failed') return job.status === 'completed';
    await sleep(100);
  }
  return false;
}
