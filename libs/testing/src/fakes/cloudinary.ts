import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { FormatEnum } from 'sharp';
import sharp from 'sharp';
import type { FilePart } from './http.ts';
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

export type CloudinaryUpload = {
  cloud: string;
  resourceType: string;
  params: Record<string, string>;
  bytes: Buffer;
  publicId: string;
  format: string;
};

export type FakeCloudinary = {
  origin: string;
  cloudinaryUrl: string;
  uploads: CloudinaryUpload[];
  failNext(count: number, status?: number): void;
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
  displayName: string;
};

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

// A file part, or a data URI (what `upload('data:…')` sends); remote URLs are not fetched.
async function fileOf(form: FormData): Promise<FilePart | undefined> {
  const file = await fileField(form);
  if (typeof file !== 'string') return file;
  const base64 = /^data:[^;,]*;base64,(.*)$/s.exec(file)?.[1];
  return base64 ? { bytes: Buffer.from(base64, 'base64'), filename: 'file' } : undefined;
}

export async function startFakeCloudinary(opts: {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
}): Promise<FakeCloudinary> {
  const uploads: CloudinaryUpload[] = [];
  const assets = new Map<string, Asset>();
  const failures = failureQueue();

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
  });

  async function upload(
    res: ServerResponse,
    form: FormData,
    params: Record<string, string>,
    pathType: string,
  ): Promise<void> {
    const file = await fileOf(form);
    if (!file) return fail(res, 400, 'Missing required parameter - file');
    const image = await probeImage(file.bytes);
    const resourceType = pathType === 'auto' ? (image ? 'image' : 'raw') : pathType;
    if (resourceType === 'image' && !image) return fail(res, 400, 'Invalid image file');

    let bytes = file.bytes;
    let format = params.format || file.filename.match(/\.(\w+)$/)?.[1] || '';
    if (image) {
      const output = params.format ? OUTPUT_FORMATS[params.format] : undefined;
      if (params.format && !output) return fail(res, 400, `Invalid image format ${params.format}`);
      if (output) bytes = await sharp(bytes).toFormat(output).toBuffer();
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
      width: image?.width,
      height: image?.height,
      version: Math.floor(Date.now() / 1000),
      assetId: randomBytes(16).toString('hex'),
      versionId: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      assetFolder: params.asset_folder ?? folder ?? '',
      displayName: params.display_name ?? id.split('/').pop() ?? id,
    };
    assets.set(`${resourceType}/${publicId}`, asset);
    uploads.push({ cloud: opts.cloudName, resourceType, params, bytes: file.bytes, publicId, format });
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
    assets.set(to, asset);
    sendJson(res, 200, describe(asset));
  }

  function destroy(res: ServerResponse, params: Record<string, string>, resourceType: string): void {
    sendJson(res, 200, { result: assets.delete(`${resourceType}/${params.public_id}`) ? 'ok' : 'not found' });
  }

  const server = await listen(async (req, res, body) => {
    const path = pathOf(req);
    const api = /^\/v1_1\/([^/]+)\/(image|video|raw|auto)\/(upload|rename|destroy)$/.exec(path);
    if (req.method === 'POST' && api) {
      const [, cloud, resourceType = '', action] = api;
      if (cloud !== opts.cloudName) return fail(res, 404, `Invalid cloud_name ${cloud}`);
      const failure = action === 'upload' ? failures.take() : undefined;
      if (failure) return fail(res, failure, failure === 500 ? 'General Error' : (STATUS_CODES[failure] ?? 'Error'));

      const form = await readForm(req, body);
      const params = textFields(form);
      const problem = authProblem(params, opts.apiKey, opts.apiSecret);
      if (problem) return fail(res, ...problem);
      if (action === 'upload') return upload(res, form, params, resourceType);
      if (action === 'rename') return rename(res, params, resourceType);
      return destroy(res, params, resourceType);
    }

    const delivery = /^\/([^/]+)\/(image|video|raw)\/upload\/(?:v\d+\/)?(.+)$/.exec(path);
    if (req.method === 'GET' && delivery?.[1] === opts.cloudName) {
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
    failNext: failures.failNext,
    close: server.close,
  };
}
