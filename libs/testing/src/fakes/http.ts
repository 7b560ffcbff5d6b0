import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void> | void;

export type Listening = { origin: string; close(): Promise<void> };

// Ephemeral loopback port, so test files running in parallel never collide.
export async function listen(handler: Handler): Promise<Listening> {
  const server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      await handler(req, res, Buffer.concat(chunks));
    } catch (error) {
      // A bug in a fake must fail loudly instead of leaving the SDK waiting.
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error) } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Also ends keep-alive sockets and requests left hanging on purpose.
        server.closeAllConnections();
      }),
  };
}

export function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://fake').pathname;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** Media types by file extension, as the fake stores report and serve them. */
export const MIME_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tiff: 'image/tiff',
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  avi: 'video/x-msvideo',
  pdf: 'application/pdf',
};

// Node leaves the body out by itself when the request was a HEAD.
export function sendFile(res: ServerResponse, bytes: Buffer, format: string): void {
  res.writeHead(200, {
    'content-type': MIME_TYPES[format.toLowerCase()] ?? 'application/octet-stream',
    'content-length': String(bytes.length),
  });
  res.end(bytes);
}

// Both upload APIs take multipart bodies (Cloudinary's SDK also sends its other calls that way).
export async function readForm(req: IncomingMessage, body: Buffer): Promise<FormData> {
  return new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
}

// Every field but `file` (both providers name it so, even when sent as text); repeated `key[]`
// fields, how SDKs send arrays, become one comma-joined value.
export function textFields(form: FormData): Record<string, string> {
  const fields: Record<string, string[]> = {};
  for (const [key, value] of form) {
    if (key === 'file' || typeof value !== 'string') continue;
    const name = key.endsWith('[]') ? key.slice(0, -2) : key;
    fields[name] = [...(fields[name] ?? []), value];
  }
  return Object.fromEntries(Object.entries(fields).map(([key, values]) => [key, values.join(',')]));
}

export type FilePart = { bytes: Buffer; filename: string };

// The uploaded `file` part, or the text sent in its place (providers also accept base64 or URLs).
export async function fileField(form: FormData): Promise<FilePart | string | undefined> {
  const file = form.get('file');
  return file instanceof File
    ? { bytes: Buffer.from(await file.arrayBuffer()), filename: file.name }
    : (file ?? undefined);
}

export type ImageInfo = { format: string; width: number; height: number };

// Undefined when the bytes are not an image sharp can read.
export async function probeImage(bytes: Buffer): Promise<ImageInfo | undefined> {
  try {
    const { format, width, height } = await sharp(bytes).metadata();
    return { format, width, height };
  } catch {
    return undefined;
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomId(length: number): string {
  return Array.from(randomBytes(length), (byte) => ALPHABET[byte % ALPHABET.length]).join('');
}

// The bytes behind a remote URL, as a provider fetches them; undefined when the fetch fails.
export async function fetchRemote(url: string): Promise<FilePart | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return undefined;
    const filename = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || 'file';
    return { bytes: Buffer.from(await response.arrayBuffer()), filename };
  } catch {
    return undefined;
  }
}

export function isRemoteUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

// Statuses queued by a test's failNext(), consumed one per failing request.
export function failureQueue(): { failNext(count: number, status?: number): void; take(): number | undefined } {
  const statuses: number[] = [];
  return {
    failNext: (count, status = 500) => statuses.push(...Array<number>(count).fill(status)),
    take: () => statuses.shift(),
  };
}

export type OperationFailures<Operation extends string> = {
  // Fails the next `count` write requests, whatever their operation, in arrival order.
  failNext(count: number, status?: number): void;
  // Fails the next `count` requests of that operation only.
  failNextOn(operation: Operation, count: number, status?: number): void;
  // The status to fail this request with: a targeted failure first, else a general one.
  take(operation: Operation): number | undefined;
};

export function operationFailures<Operation extends string>(): OperationFailures<Operation> {
  const general = failureQueue();
  const targeted = new Map<Operation, ReturnType<typeof failureQueue>>();
  const queue = (operation: Operation) => {
    const existing = targeted.get(operation);
    if (existing) return existing;
    const created = failureQueue();
    targeted.set(operation, created);
    return created;
  };
  return {
    failNext: general.failNext,
    failNextOn: (operation, count, status) => queue(operation).failNext(count, status),
    take: (operation) => queue(operation).take() ?? general.take(),
  };
}
