import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { FilePart } from './http.ts';
import {
  fetchRemote,
  fileField,
  isRemoteUrl,
  listen,
  MIME_TYPES,
  operationFailures,
  pathOf,
  probeImage,
  randomId,
  readForm,
  sendFile,
  sendJson,
  textFields,
} from './http.ts';
import { probeVideo } from './video.ts';

export type ImageKitUpload = {
  fields: Record<string, string>;
  bytes: Buffer;
  filePath: string;
  // The remote URL the fake fetched the file from, when `file` was one.
  sourceUrl?: string;
};

export type ImageKitMove = { fileId: string; from: string; to: string };

export type ImageKitFile = {
  fileId: string;
  name: string;
  filePath: string;
  // The folder, as ImageKit writes it: '/a/b/', '/' at the root.
  folder: string;
  fileType: 'image' | 'non-image';
  url: string;
  bytes: Buffer;
};

export type ImageKitOperation = 'upload' | 'move' | 'delete';

export type FakeImageKit = {
  baseUrl: string;
  urlEndpoint: string;
  uploads: ImageKitUpload[];
  // Successful moves; `to` is the file's new filePath.
  moves: ImageKitMove[];
  // fileIds deleted (404 answers are not recorded).
  deletes: string[];
  // Fails the next `count` write requests (uploads, moves, deletes) in arrival order.
  failNext(count: number, status?: number): void;
  failNextOn(operation: ImageKitOperation, count: number, status?: number): void;
  // What the media library holds now.
  files(): ImageKitFile[];
  close(): Promise<void>;
};

type StoredFile = {
  fileId: string;
  name: string;
  filePath: string;
  bytes: Buffer;
  image: boolean;
  width?: number;
  height?: number;
  duration?: number;
  version: number;
  versionId: string;
  tags: string[] | null;
  createdAt: string;
  updatedAt: string;
};

const HELP = 'For support kindly contact us at support@imagekit.io .';

function fail(
  res: ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
  reason?: string,
): void {
  sendJson(res, status, { message, help: HELP, ...(reason && { reason }) }, headers);
}

// The SDK sends Basic base64(privateKey + ':' + password); the service ignores the password part.
function authorized(req: IncomingMessage, privateKey: string): boolean {
  const [scheme, encoded = ''] = (req.headers.authorization ?? '').split(' ');
  return scheme === 'Basic' && Buffer.from(encoded, 'base64').toString('utf8').split(':')[0] === privateKey;
}

// '/a/b/', 'a/b' and 'a//b' all name the folder '/a/b/'.
function folderPath(folder: string | undefined): string {
  const segments = (folder ?? '').split('/').filter(Boolean);
  return segments.length ? `/${segments.join('/')}/` : '/';
}

function folderOf(filePath: string): string {
  return filePath.slice(0, filePath.lastIndexOf('/') + 1);
}

function extensionOf(name: string): string {
  return name.includes('.') ? (name.split('.').pop() ?? '').toLowerCase() : '';
}

// Unsafe characters become '_'; a unique name gets a random suffix before the extension.
function storedName(fileName: string, unique: boolean): string {
  const safe = fileName.replace(/[^\w.-]/g, '_');
  if (!unique) return safe;
  const dot = safe.lastIndexOf('.');
  return dot > 0 ? `${safe.slice(0, dot)}_${randomId(9)}${safe.slice(dot)}` : `${safe}_${randomId(9)}`;
}

type Source = FilePart & { sourceUrl?: string };

// The service takes the file as binary, as a URL it fetches, or as base64 (plain or a data URI).
async function sourceOf(file: FilePart | string): Promise<Source | string> {
  if (typeof file !== 'string') return file;
  if (isRemoteUrl(file)) {
    const fetched = await fetchRemote(file);
    return fetched ? { ...fetched, sourceUrl: file } : `Unable to fetch the file from the URL ${file}`;
  }
  const base64 = /^data:[^;,]*;base64,(.*)$/s.exec(file)?.[1] ?? file;
  return { bytes: Buffer.from(base64, 'base64'), filename: 'file' };
}

function now(): string {
  return new Date().toISOString();
}

export async function startFakeImageKit(opts: {
  privateKey: string;
  /** How long each operation takes, as the real API's do (hundreds of milliseconds). */
  latencyMs?: Partial<Record<ImageKitOperation, number>>;
}): Promise<FakeImageKit> {
  const uploads: ImageKitUpload[] = [];
  const moves: ImageKitMove[] = [];
  const deletes: string[] = [];
  const files = new Map<string, StoredFile>();
  const failures = operationFailures<ImageKitOperation>();

  const byPath = (filePath: string) => [...files.values()].find((stored) => stored.filePath === filePath);
  const isVideo = (stored: StoredFile) => MIME_TYPES[extensionOf(stored.name)]?.startsWith('video/') ?? false;

  // The fields both the upload answer and the file details carry.
  const common = (stored: StoredFile) => ({
    fileId: stored.fileId,
    name: stored.name,
    filePath: stored.filePath,
    url: `${urlEndpoint}${stored.filePath}`,
    fileType: stored.image ? 'image' : 'non-image',
    height: stored.height,
    width: stored.width,
    size: stored.bytes.length,
    ...(stored.duration !== undefined && { duration: stored.duration }),
    versionInfo: {
      id: stored.versionId,
      name: `Version ${stored.version}`,
    },
    tags: stored.tags,
    AITags: null,
    isPrivateFile: false,
    isPublished: true,
    customCoordinates: null,
  });

  async function upload(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const form = await readForm(req, body);
    const fields = textFields(form);
    const file = await fileField(form);
    if (!file) return fail(res, 400, 'Missing file parameter for upload');
    if (!fields.fileName) return fail(res, 400, 'Missing fileName parameter for upload');
    const source = await sourceOf(file);
    if (typeof source === 'string') return fail(res, 400, source);

    const { bytes } = source;
    const name = storedName(fields.fileName, fields.useUniqueFileName !== 'false');
    const filePath = `${folderPath(fields.folder)}${name}`;
    const image = await probeImage(bytes);
    const video = image ? undefined : probeVideo(bytes);
    const previous = byPath(filePath);
    // Same path without a unique name: a new version of the same file (overwriteFile defaults to true).
    const version = (previous?.version ?? 0) + 1;
    const fileId = previous?.fileId ?? randomBytes(12).toString('hex');
    const stored: StoredFile = {
      fileId,
      name,
      filePath,
      bytes,
      image: image !== undefined,
      width: image?.width ?? video?.width,
      height: image?.height ?? video?.height,
      version,
      versionId: version === 1 ? fileId : randomBytes(12).toString('hex'),
      tags: fields.tags ? fields.tags.split(',') : null,
      createdAt: previous?.createdAt ?? now(),
      updatedAt: now(),
    };
    // Videos report whole seconds.
    if (video || isVideo(stored)) stored.duration = Math.round(video?.duration ?? 1);
    files.set(stored.fileId, stored);
    uploads.push({ fields, bytes, filePath, ...(source.sourceUrl && { sourceUrl: source.sourceUrl }) });

    sendJson(res, 200, {
      ...common(stored),
      thumbnailUrl: image ? `${urlEndpoint}/tr:n-ik_ml_thumbnail${filePath}` : '',
    });
  }

  // Like the real API: the file keeps its fileId; onto a same-named file it becomes that file's new version.
  function move(res: ServerResponse, body: Buffer) {
    const { sourceFilePath, destinationPath } = JSON.parse(body.toString('utf8') || '{}') as Record<
      string,
      string | undefined
    >;
    if (!sourceFilePath || !destinationPath) return fail(res, 400, 'sourceFilePath and destinationPath are required');
    const stored = byPath(sourceFilePath);
    if (!stored) return fail(res, 404, `No file found with filePath ${sourceFilePath}`, {}, 'SOURCE_FILE_MISSING');
    // destinationPath is the folder to move into; the name stays.
    const to = `${folderPath(destinationPath)}${stored.name}`;
    const existing = byPath(to);
    if (existing && existing !== stored) {
      files.delete(stored.fileId);
      Object.assign(existing, {
        bytes: stored.bytes,
        image: stored.image,
        width: stored.width,
        height: stored.height,
        duration: stored.duration,
        version: existing.version + 1,
        versionId: randomBytes(12).toString('hex'),
        updatedAt: now(),
      });
    } else {
      stored.filePath = to;
      stored.updatedAt = now();
    }
    moves.push({ fileId: stored.fileId, from: sourceFilePath, to });
    res.writeHead(204).end();
  }

  function details(res: ServerResponse, fileId: string) {
    const stored = files.get(fileId);
    if (!stored) return fail(res, 404, 'The requested file does not exist.');
    const extension = extensionOf(stored.name);
    sendJson(res, 200, {
      type: 'file',
      ...common(stored),
      thumbnail: stored.image ? `${urlEndpoint}/tr:n-media_library_thumbnail${stored.filePath}` : '',
      mime: MIME_TYPES[extension] ?? 'application/octet-stream',
      hasAlpha: false,
      customMetadata: {},
      createdAt: stored.createdAt,
      updatedAt: stored.updatedAt,
    });
  }

  function remove(res: ServerResponse, fileId: string) {
    if (!files.delete(fileId)) return fail(res, 404, 'The requested file does not exist.');
    deletes.push(fileId);
    res.writeHead(204).end();
  }

  const server = await listen(async (req, res, body) => {
    const path = pathOf(req);
    if ((req.method === 'GET' || req.method === 'HEAD') && path.startsWith('/ik/')) {
      // URL transformations (/tr:…/) are accepted and ignored: the original bytes are served.
      const filePath = decodeURIComponent(path.slice('/ik'.length).replace(/^\/tr:[^/]*/, ''));
      const stored = byPath(filePath);
      if (stored) return sendFile(res, stored.bytes, extensionOf(stored.name));
      return fail(res, 404, 'File not found');
    }
    if (!authorized(req, opts.privateKey)) return fail(res, 401, 'Your account cannot be authenticated.');

    const fileId = /^\/v1\/files\/([^/]+)(\/details)?$/.exec(path);
    const operation: ImageKitOperation | undefined =
      req.method === 'POST' && path === '/api/v1/files/upload'
        ? 'upload'
        : req.method === 'POST' && path === '/v1/files/move'
          ? 'move'
          : req.method === 'DELETE' && fileId && !fileId[2]
            ? 'delete'
            : undefined;
    if (operation) {
      const failure = failures.take(operation);
      // retry-after-ms: 0 keeps the SDK's own retries instant.
      if (failure) return fail(res, failure, STATUS_CODES[failure] ?? 'Error', { 'retry-after-ms': '0' });
      const waitMs = opts.latencyMs?.[operation] ?? 0;
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    if (operation === 'upload') return upload(req, res, body);
    if (operation === 'move') return move(res, body);
    if (operation === 'delete') return remove(res, decodeURIComponent(fileId?.[1] ?? ''));
    if (req.method === 'GET' && fileId?.[2]) return details(res, decodeURIComponent(fileId[1] ?? ''));
    fail(res, 404, `${req.method} ${path} is not served by the fake`);
  });
  const urlEndpoint = `${server.origin}/ik`;

  return {
    baseUrl: server.origin,
    urlEndpoint,
    uploads,
    moves,
    deletes,
    failNext: failures.failNext,
    failNextOn: failures.failNextOn,
    files: () =>
      [...files.values()].map((stored) => ({
        fileId: stored.fileId,
        name: stored.name,
        filePath: stored.filePath,
        folder: folderOf(stored.filePath),
        fileType: stored.image ? ('image' as const) : ('non-image' as const),
        url: `${urlEndpoint}${stored.filePath}`,
        bytes: stored.bytes,
      })),
    close: server.close,
  };
}
