import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import {
  failureQueue,
  fileField,
  listen,
  pathOf,
  probeImage,
  randomId,
  readForm,
  sendFile,
  sendJson,
  textFields,
} from './http.ts';

export type ImageKitUpload = { fields: Record<string, string>; bytes: Buffer; filePath: string };

export type FakeImageKit = {
  baseUrl: string;
  urlEndpoint: string;
  uploads: ImageKitUpload[];
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
};

type StoredFile = {
  fileId: string;
  name: string;
  filePath: string;
  bytes: Buffer;
  width?: number;
  height?: number;
  version: number;
};

const HELP = 'For support kindly contact us at support@imagekit.io .';

function fail(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { message, help: HELP }, headers);
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

// Unsafe characters become '_'; a unique name gets a random suffix before the extension.
function storedName(fileName: string, unique: boolean): string {
  const safe = fileName.replace(/[^\w.-]/g, '_');
  if (!unique) return safe;
  const dot = safe.lastIndexOf('.');
  return dot > 0 ? `${safe.slice(0, dot)}_${randomId(9)}${safe.slice(dot)}` : `${safe}_${randomId(9)}`;
}

export async function startFakeImageKit(opts: { privateKey: string }): Promise<FakeImageKit> {
  const uploads: ImageKitUpload[] = [];
  const files = new Map<string, StoredFile>();
  const failures = failureQueue();

  async function upload(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const form = await readForm(req, body);
    const fields = textFields(form);
    const file = await fileField(form);
    if (!file) return fail(res, 400, 'Missing file parameter for upload');
    if (!fields.fileName) return fail(res, 400, 'Missing fileName parameter for upload');

    // The service also takes the file as base64 text; URLs are not fetched here.
    const bytes = typeof file === 'string' ? Buffer.from(file, 'base64') : file.bytes;
    const name = storedName(fields.fileName, fields.useUniqueFileName !== 'false');
    const filePath = `${folderPath(fields.folder)}${name}`;
    const image = await probeImage(bytes);
    const previous = [...files.values()].find((stored) => stored.filePath === filePath);
    // Same path without a unique name: a new version of the same file (overwriteFile defaults to true).
    const stored: StoredFile = {
      fileId: previous?.fileId ?? randomBytes(12).toString('hex'),
      name,
      filePath,
      bytes,
      width: image?.width,
      height: image?.height,
      version: (previous?.version ?? 0) + 1,
    };
    files.set(stored.fileId, stored);
    uploads.push({ fields, bytes, filePath });

    const url = `${urlEndpoint}${filePath}`;
    sendJson(res, 200, {
      fileId: stored.fileId,
      name,
      size: bytes.length,
      versionInfo: {
        id: stored.version === 1 ? stored.fileId : randomBytes(12).toString('hex'),
        name: `Version ${stored.version}`,
      },
      filePath,
      url,
      fileType: image ? 'image' : 'non-image',
      height: image?.height,
      width: image?.width,
      thumbnailUrl: image ? `${urlEndpoint}/tr:n-ik_ml_thumbnail${filePath}` : '',
      tags: fields.tags ? fields.tags.split(',') : null,
      AITags: null,
      isPrivateFile: false,
      isPublished: true,
      customCoordinates: null,
    });
  }

  function move(res: ServerResponse, body: Buffer) {
    const { sourceFilePath, destinationPath } = JSON.parse(body.toString('utf8') || '{}') as Record<
      string,
      string | undefined
    >;
    if (!sourceFilePath || !destinationPath) return fail(res, 400, 'sourceFilePath and destinationPath are required');
    const stored = [...files.values()].find((file) => file.filePath === sourceFilePath);
    if (!stored) return fail(res, 404, `No file found with filePath ${sourceFilePath}`);
    // destinationPath is the folder to move into; the name stays.
    stored.filePath = `${folderPath(destinationPath)}${stored.name}`;
    res.writeHead(204).end();
  }

  const server = await listen(async (req, res, body) => {
    const path = pathOf(req);
    if (req.method === 'GET' && path.startsWith('/ik/')) {
      // URL transformations (/tr:…/) are accepted and ignored: the original bytes are served.
      const filePath = decodeURIComponent(path.slice('/ik'.length).replace(/^\/tr:[^/]*/, ''));
      const stored = [...files.values()].find((file) => file.filePath === filePath);
      if (stored) return sendFile(res, stored.bytes, stored.name.split('.').pop() ?? '');
      return fail(res, 404, 'File not found');
    }
    if (!authorized(req, opts.privateKey)) return fail(res, 401, 'Your account cannot be authenticated.');

    if (req.method === 'POST' && path === '/api/v1/files/upload') {
      const failure = failures.take();
      // retry-after-ms: 0 keeps the SDK's own retries instant.
      if (failure) return fail(res, failure, STATUS_CODES[failure] ?? 'Error', { 'retry-after-ms': '0' });
      return upload(req, res, body);
    }
    if (req.method === 'POST' && path === '/v1/files/move') return move(res, body);
    const fileId = /^\/v1\/files\/([^/]+)$/.exec(path)?.[1];
    if (req.method !== 'DELETE' || !fileId) return fail(res, 404, `${req.method} ${path} is not served by the fake`);
    if (!files.delete(fileId)) return fail(res, 404, 'The requested file does not exist.');
    res.writeHead(204).end();
  });
  const urlEndpoint = `${server.origin}/ik`;

  return {
    baseUrl: server.origin,
    urlEndpoint,
    uploads,
    failNext: failures.failNext,
    close: server.close,
  };
}
