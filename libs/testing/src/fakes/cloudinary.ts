import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { FormatEnum } from 'sharp';
import sharp from 'sharp';
import type { FilePart } from './http.ts';
import {
  fetchRemote,
  fileField,
  isRemoteUrl,
  listen,
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

export type CloudinaryUpload = {
  cloud: string;
  resourceType: string;
  params: Record<string, string>;
  bytes: Buffer;
  publicId: string;
  format: string;
  // Requests the upload took: 1, or the number of chunks of an upload_large / upload_chunked_stream.
  chunks: number;
  // The remote URL the fake fetched the file from, when `file` was one.
  sourceUrl?: string;
};

export type CloudinaryRename = { from: string; to: string; resourceType: string };

export type CloudinaryAsset = {
  publicId: string;
  resourceType: string;
  format: string;
  // The folder part of the public_id (fixed-folder accounts), '' at the root.
  folder: string;
  // asset_folder (dynamic-folder accounts): as given at upload, else the public_id's folder.
  assetFolder: string;
  url: string;
  bytes: Buffer;
};

export type CloudinaryOperation = 'upload' | 'rename' | 'destroy';

export type FakeCloudinary = {
  origin: string;
  cloudinaryUrl: string;
  // Completed uploads (a chunked upload counts once, when its last chunk arrives).
  uploads: CloudinaryUpload[];
  // Successful renames.
  renames: CloudinaryRename[];
  // Public ids destroyed (result "ok"; "not found" answers are not recorded).
  destroys: string[];
  // Fails the next `count` write requests (upload chunks, renames, destroys) in arrival order.
  failNext(count: number, status?: number): void;
  failNextOn(operation: CloudinaryOperation, count: number, status?: number): void;
  // Holds the next request of this kind for `ms` before acting on it; like a real API, it still acts
  // if the caller has gone meanwhile (a worker killed mid-call).
  slowNextOn(operation: CloudinaryOperation, ms: number): void;
  // Write requests of each kind that have arrived, answered yet or not.
  arrivals: Record<CloudinaryOperation, number>;
  // What the cloud holds now.
  assets(): CloudinaryAsset[];
  close(): Promise<void>;
};

type Asset = {
  resourceType: string;
  publicId: string;
  format: string;
  bytes: Buffer;
  width?: number;
  height?: number;
  version: number;
  assetId: string;
  versionId: string;
  createdAt: string;
  assetFolder: string;
  // asset_folder was given at upload: a rename keeps it (dynamic folders) instead of following the id.
  fixedAssetFolder: boolean;
  displayName: string;
  duration?: number;
};

// The chunks of one X-Unique-Upload-Id received so far, by start offset.
type ChunkedUpload = { parts: Map<number, Buffer>; total?: number; chunks: number };

// Formats an upload's `format` may convert an image to.
const OUTPUT_FORMATS: Record<string, keyof FormatEnum> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tiff',
};

// Never part of the string to sign (nor are empty values).
const UNSIGNED = new Set(['file', 'api_key', 'signature', 'resource_type', 'cloud_name']);

function fail(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message } });
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

// Signature version 2 as the SDK computes it: sorted `k=v` pairs, `&` inside a pair escaped as %26.
function stringToSign(params: Record<string, string>): string {
  return Object.entries(params)
    .filter(([key, value]) => !UNSIGNED.has(key) && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`.replaceAll('&', '%26'))
    .join('&');
}

// The error message of a request whose credentials the real API would refuse, if any.
function authProblem(params: Record<string, string>, apiKey: string, apiSecret: string): [number, string] | undefined {
  if (!params.api_key) return [401, 'Must supply api_key'];
  if (params.api_key !== apiKey) return [401, `Unknown API key ${params.api_key}`];
  if (!params.timestamp) return [400, 'Missing required parameter - timestamp'];
  const timestamp = Number(params.timestamp);
  if (Date.now() / 1000 - timestamp > 3600) {
    const reported = new Date(timestamp * 1000)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' +0000');
    return [400, `Stale request - reported time is ${reported} which is more than 1 hour ago`];
  }
  const toSign = stringToSign(params);
  if (params.signature !== sha1(toSign + apiSecret)) {
    return [401, `Invalid Signature ${params.signature ?? ''}. String to sign - '${toSign}'.`];
  }
  return undefined;
}

type Source = FilePart & { sourceUrl?: string };

// A file part, a data URI (what `upload('data:…')` sends) or a remote URL, which the fake fetches.
async function fileOf(form: FormData): Promise<Source | string | undefined> {
  const file = await fileField(form);
  if (typeof file !== 'string') return file;
  if (isRemoteUrl(file)) {
    const fetched = await fetchRemote(file);
    return fetched ? { ...fetched, sourceUrl: file } : `Resource not found - ${file}`;
  }
  const base64 = /^data:[^;,]*;base64,(.*)$/s.exec(file)?.[1];
  return base64 ? { bytes: Buffer.from(base64, 'base64'), filename: 'file' } : undefined;
}

function folderOf(publicId: string): string {
  return publicId.includes('/') ? publicId.slice(0, publicId.lastIndexOf('/')) : '';
}

// `bytes a-b/total`; the SDK sends total -1 on every chunk but the last.
function parseContentRange(header: string): { start: number; end: number; total: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(-1|\d+)$/.exec(header.trim());
  if (!match) return undefined;
  const [start, end, total] = match.slice(1).map(Number) as [number, number, number];
  return end >= start ? { start, end, total } : undefined;
}

export async function startFakeCloudinary(opts: {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  // Smallest chunk but the last that a chunked upload may send. The real API wants more than 5 MB;
  // the fake accepts any size unless told, so tests can chunk small files.
  minChunkBytes?: number;
  // How long each operation takes, as the real API's do (hundreds of milliseconds; the benchmark uses an
  // upload at 300 ms and a rename at 150 ms). A chunked upload takes it once per chunk.
  latencyMs?: Partial<Record<CloudinaryOperation, number>>;
}): Promise<FakeCloudinary> {
  const uploads: CloudinaryUpload[] = [];
  const renames: CloudinaryRename[] = [];
  const destroys: string[] = [];
  const assets = new Map<string, Asset>();
  const chunked = new Map<string, ChunkedUpload>();
  const failures = operationFailures<CloudinaryOperation>();
  const slow = new Map<CloudinaryOperation, number>();
  const arrivals: Record<CloudinaryOperation, number> = { upload: 0, rename: 0, destroy: 0 };

  const deliveryUrl = (asset: Asset) =>
    `${server.origin}/${opts.cloudName}/${asset.resourceType}/upload/v${asset.version}/${asset.publicId}${asset.format ? `.${asset.format}` : ''}`;

  const describe = (asset: Asset) => ({
    asset_id: asset.assetId,
    public_id: asset.publicId,
    version: asset.version,
    version_id: asset.versionId,
    signature: sha1(`public_id=${asset.publicId}&version=${asset.version}${opts.apiSecret}`),
    width: asset.width,
    height: asset.height,
    format: asset.format,
    resource_type: asset.resourceType,
    created_at: asset.createdAt,
    bytes: asset.bytes.length,
    type: 'upload',
    etag: createHash('md5').update(asset.bytes).digest('hex'),
    placeholder: false,
    url: deliveryUrl(asset),
    secure_url: deliveryUrl(asset),
    asset_folder: asset.assetFolder,
    display_name: asset.displayName,
    ...(asset.resourceType === 'video' && { duration: asset.duration ?? 1, is_audio: false }),
  });

  // Chunks of an upload_large / upload_chunked_stream: answered `done: false` until the last one,
  // which stores the assembled file and answers like a single upload.
  async function uploadChunk(
    req: IncomingMessage,
    res: ServerResponse,
    form: FormData,
    params: Record<string, string>,
    pathType: string,
  ): Promise<void> {
    const range = parseContentRange(String(req.headers['content-range']));
    if (!range) return fail(res, 400, `Invalid Content-Range header ${req.headers['content-range']}`);
    const uploadId = req.headers['x-unique-upload-id'];
    if (typeof uploadId !== 'string' || !uploadId) return fail(res, 400, 'Missing X-Unique-Upload-Id header');
    const file = await fileOf(form);
    if (typeof file !== 'object') return fail(res, 400, 'Missing required parameter - file');
    if (file.bytes.length !== range.end - range.start + 1) {
      return fail(res, 400, `Chunk size ${file.bytes.length} does not match Content-Range ${range.start}-${range.end}`);
    }
    const last = range.total !== -1;
    if (!last && file.bytes.length < (opts.minChunkBytes ?? 0)) {
      return fail(res, 400, `Chunk of ${file.bytes.length} bytes is smaller than ${opts.minChunkBytes} bytes`);
    }

    const key = `${pathType}/${uploadId}`;
    const session = chunked.get(key) ?? { parts: new Map<number, Buffer>(), chunks: 0 };
    chunked.set(key, session);
    session.parts.set(range.start, file.bytes);
    session.chunks += 1;
    if (last) session.total = range.total;
    const received = [...session.parts.values()].reduce((sum, part) => sum + part.length, 0);
    if (!last) {
      const folder = params.folder?.replace(/^\/+|\/+$/g, '');
      return sendJson(res, 200, {
        done: false,
        bytes: received,
        type: 'upload',
        ...(pathType !== 'auto' && { resource_type: pathType }),
        ...(params.public_id && { public_id: folder ? `${folder}/${params.public_id}` : params.public_id }),
      });
    }

    // The last chunk must arrive after all the others: the file is complete now or never.
    chunked.delete(key);
    const starts = [...session.parts.keys()].sort((a, b) => a - b);
    let offset = 0;
    for (const start of starts) {
      if (start !== offset) return fail(res, 400, `Chunked upload is missing bytes ${offset}-${start - 1}`);
      offset += session.parts.get(start)?.length ?? 0;
    }
    if (offset !== range.total) return fail(res, 400, `Chunked upload has ${offset} of ${range.total} bytes`);
    const bytes = Buffer.concat(starts.map((start) => session.parts.get(start) ?? Buffer.alloc(0)));
    return store(res, { bytes, filename: file.filename }, params, pathType, session.chunks);
  }

  async function upload(
    res: ServerResponse,
    form: FormData,
    params: Record<string, string>,
    pathType: string,
  ): Promise<void> {
    const file = await fileOf(form);
    if (typeof file === 'string') return fail(res, 404, file);
    if (!file) return fail(res, 400, 'Missing required parameter - file');
    return store(res, file, params, pathType, 1);
  }

  async function store(
    res: ServerResponse,
    file: Source,
    params: Record<string, string>,
    pathType: string,
    chunks: number,
  ): Promise<void> {
    const image = await probeImage(file.bytes);
    const video = image ? undefined : probeVideo(file.bytes);
    const resourceType = pathType === 'auto' ? (image ? 'image' : video ? 'video' : 'raw') : pathType;
    if (resourceType === 'image' && !image) return fail(res, 400, 'Invalid image file');

    let bytes = file.bytes;
    const extension = file.filename.match(/\.(\w+)$/)?.[1]?.toLowerCase();
    let format = params.format || extension || '';
    if (resourceType === 'video') format = params.format || video?.format || extension || 'mp4';
    // Videos keep their bytes (an animated GIF may be uploaded as a video).
    if (image && resourceType !== 'video') {
      const output = params.format ? OUTPUT_FORMATS[params.format] : undefined;
      if (params.format && !output) return fail(res, 400, `Invalid image format ${params.format}`);
      // An image already in the asked format is kept as sent: the fake does not model Cloudinary's
      // recompression, and a JPEG's re-encoding cost it the CPU that the benchmark's services share.
      if (output && output !== image.format) bytes = await sharp(bytes).toFormat(output).toBuffer();
      format = params.format || (image.format === 'jpeg' ? 'jpg' : image.format);
    }

    // Fixed-folder accounts: the folder becomes part of the public_id.
    const folder = params.folder?.replace(/^\/+|\/+$/g, '');
    const id = params.public_id || randomId(20);
    const publicId = folder ? `${folder}/${id}` : id;
    const asset: Asset = {
      resourceType,
      publicId,
      format,
      bytes,
      width: image?.width ?? video?.width,
      height: image?.height ?? video?.height,
      version: Math.floor(Date.now() / 1000),
      assetId: randomBytes(16).toString('hex'),
      versionId: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      assetFolder: params.asset_folder ?? folder ?? '',
      fixedAssetFolder: params.asset_folder !== undefined,
      displayName: params.display_name ?? id.split('/').pop() ?? id,
      duration: video?.duration,
    };
    assets.set(`${resourceType}/${publicId}`, asset);
    uploads.push({
      cloud: opts.cloudName,
      resourceType,
      params,
      bytes: file.bytes,
      publicId,
      format,
      chunks,
      ...(file.sourceUrl && { sourceUrl: file.sourceUrl }),
    });
    sendJson(res, 200, {
      ...describe(asset),
      tags: params.tags ? params.tags.split(',') : [],
      ...(folder && { folder }),
      original_filename: file.filename.replace(/\.\w+$/, ''),
      api_key: opts.apiKey,
    });
  }

  function rename(res: ServerResponse, params: Record<string, string>, resourceType: string) {
    const from = `${resourceType}/${params.from_public_id}`;
    const to = `${resourceType}/${params.to_public_id}`;
    const asset = assets.get(from);
    if (!params.to_public_id) return fail(res, 400, 'Missing required parameter - to_public_id');
    if (!asset) return fail(res, 404, `Resource not found - ${params.from_public_id}`);
    if (assets.has(to) && from !== to && params.overwrite !== '1' && params.overwrite !== 'true') {
      return fail(res, 400, `to_public_id ${params.to_public_id} already exists`);
    }
    assets.delete(from);
    asset.publicId = params.to_public_id;
    if (!asset.fixedAssetFolder) asset.assetFolder = folderOf(asset.publicId);
    assets.set(to, asset);
    renames.push({ from: params.from_public_id ?? '', to: params.to_public_id, resourceType });
    sendJson(res, 200, describe(asset));
  }

  function destroy(res: ServerResponse, params: Record<string, string>, resourceType: string): void {
    const destroyed = assets.delete(`${resourceType}/${params.public_id}`);
    if (destroyed) destroys.push(params.public_id ?? '');
    sendJson(res, 200, { result: destroyed ? 'ok' : 'not found' });
  }

  const server = await listen(async (req, res, body) => {
    const path = pathOf(req);
    const api = /^\/v1_1\/([^/]+)\/(image|video|raw|auto)\/(upload|rename|destroy)$/.exec(path);
    if (req.method === 'POST' && api) {
      const [, cloud, resourceType = '', action = 'upload'] = api;
      if (cloud !== opts.cloudName) return fail(res, 404, `Invalid cloud_name ${cloud}`);
      const failure = failures.take(action as CloudinaryOperation);
      if (failure) return fail(res, failure, failure === 500 ? 'General Error' : (STATUS_CODES[failure] ?? 'Error'));

      const form = await readForm(req, body);
      const params = textFields(form);
      const problem = authProblem(params, opts.apiKey, opts.apiSecret);
      if (problem) return fail(res, ...problem);
      const operation = action as CloudinaryOperation;
      arrivals[operation]++;
      const holdMs = slow.get(operation);
      if (holdMs !== undefined) slow.delete(operation);
      const waitMs = (holdMs ?? 0) + (opts.latencyMs?.[operation] ?? 0);
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (action === 'upload' && req.headers['content-range'] !== undefined) {
        return uploadChunk(req, res, form, params, resourceType);
      }
      if (action === 'upload') return upload(res, form, params, resourceType);
      if (action === 'rename') return rename(res, params, resourceType);
      return destroy(res, params, resourceType);
    }

    const delivery = /^\/([^/]+)\/(image|video|raw)\/upload\/(?:v\d+\/)?(.+)$/.exec(path);
    if ((req.method === 'GET' || req.method === 'HEAD') && delivery?.[1] === opts.cloudName) {
      const requested = decodeURIComponent(delivery[3] ?? '');
      const asset = [...assets.values()].find(
        (a) =>
          a.resourceType === delivery[2] && (requested === `${a.publicId}.${a.format}` || requested === a.publicId),
      );
      if (asset) return sendFile(res, asset.bytes, asset.format);
    }
    fail(res, 404, `Resource not found - ${path}`);
  });

  return {
    origin: server.origin,
    cloudinaryUrl: `cloudinary://${opts.apiKey}:${opts.apiSecret}@${opts.cloudName}?upload_prefix=${server.origin}`,
    uploads,
    renames,
    destroys,
    failNext: failures.failNext,
    failNextOn: failures.failNextOn,
    slowNextOn: (operation, ms) => slow.set(operation, ms),
    arrivals,
    assets: () =>
      [...assets.values()].map((asset) => ({
        publicId: asset.publicId,
        resourceType: asset.resourceType,
        format: asset.format,
        folder: folderOf(asset.publicId),
        assetFolder: asset.assetFolder,
        url: deliveryUrl(asset),
        bytes: asset.bytes,
      })),
    close: server.close,
  };
}
