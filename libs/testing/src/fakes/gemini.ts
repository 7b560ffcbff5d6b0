import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import sharp, { type Sharp } from 'sharp';
import { listen, pathOf, randomId, sendJson } from './http.ts';

export type GeminiScript =
  /**
   * An error answer in Google's envelope. With `retryDelayS` its details carry a `google.rpc.RetryInfo`
   * (`"retryDelay": "2s"`), which a 429 of the real API sends next to its QuotaFailure and Help details.
   */
  | { kind: 'error'; status: number; message?: string; retryDelayS?: number }
  | { kind: 'blocked' }
  | { kind: 'image'; width: number; height: number }
  | { kind: 'no-image' }
  | { kind: 'hang' }
  /** Answers as usual, but only after `ms`: a slow model, for crash-mid-call tests. */
  | { kind: 'slow'; ms: number };

type Part = { text?: string; inlineData?: { mimeType: string; data: string }; thought?: boolean };

// The part of a generateContent body the fake reads; the rest is kept as sent.
export type GeminiRequestBody = {
  contents?: { role?: string; parts?: Part[] }[];
  generationConfig?: { responseModalities?: string[]; imageConfig?: { aspectRatio?: string } };
};

export type GeminiRequest = {
  /** When the request arrived (Date.now()), to count calls per time window. */
  at: number;
  /** The status it was answered with; undefined while it is unanswered (slow, or hanging). */
  status?: number;
  /** The API key it came with: one of the keys the fake accepts (a key per caller tells callers apart). */
  apiKey: string;
  model: string;
  apiVersion: string;
  body: GeminiRequestBody;
  text: string;
  aspectRatio: string | undefined;
  referenceImage?: { mimeType: string; bytes: Buffer };
};

export type FakeGemini = {
  baseUrl: string;
  requests: GeminiRequest[];
  script(...responses: GeminiScript[]): void;
  close(): Promise<void>;
};

// Output sizes of the Gemini image models per aspect ratio.
const SIZES: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const MESSAGES: Record<number, string> = {
  400: 'Request contains an invalid argument.',
  429: 'You exceeded your current quota, please check your plan and billing details.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
};

// Google's error envelope: {"error":{"code","message","status"}}.
function sendError(res: ServerResponse, code: number, message?: string, details?: unknown[]): void {
  const status = STATUS_NAMES[code] ?? 'UNKNOWN';
  sendJson(res, code, { error: { code, message: message ?? MESSAGES[code] ?? STATUS_CODES[code], status, details } });
}

/**
 * The images an answer carries, made once per size (and shade) and kept as their base64 text's bytes:
 * drawing a PNG for every answer cost the fake CPU that the benchmark's services share with it.
 */
const images = new Map<string, Promise<Buffer>>();
function madeOnce(key: string, make: () => Sharp): Promise<Buffer> {
  let made = images.get(key);
  if (!made) {
    made = make()
      .png()
      .toBuffer()
      .then((png: Buffer) => Buffer.from(png.toString('base64'), 'latin1'));
    images.set(key, made);
  }
  return made;
}

function flatPngBase64(width: number, height: number, gray: number): Promise<Buffer> {
  return madeOnce(`${width}x${height}/${gray}`, () =>
    sharp({ create: { width, height, channels: 3, background: { r: gray, g: gray, b: gray } } }),
  );
}

/** Images of a photo's weight (noise does not compress: about 1.5 MB of PNG at 1024²). */
function photoLikeBase64(width: number, height: number): Promise<Buffer> {
  const noise = { type: 'gaussian' as const, mean: 128, sigma: 24 };
  // Half the pixels noise, half flat: a photograph's PNG is about that heavy.
  return madeOnce(`${width}x${height}/photo`, () =>
    sharp({ create: { width, height: Math.ceil(height / 2), channels: 3, background: '#808080', noise } }).extend({
      bottom: Math.floor(height / 2),
      background: '#808080',
    }),
  );
}

/** Where the `i`th image's base64 goes in an answer's JSON, until `sendWithImages` puts it there. */
const imageSlot = (i: number) => `@@image-${i}@@`;

/**
 * `body` as JSON, each image's slot replaced by its base64 bytes (which need no escaping). Spliced in,
 * not serialized: JSON.stringify of a 2 MB string took the fake 17 ms an answer.
 */
function sendWithImages(res: ServerResponse, body: unknown, base64: Buffer[]): void {
  const pieces = JSON.stringify(body)
    .split(/@@image-(\d+)@@/)
    .map((piece, i) => (i % 2 === 1 ? (base64[Number(piece)] as Buffer) : Buffer.from(piece)));
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(Buffer.concat(pieces));
}

/** The details of a real 429: the quota that ran out, where to read about it, and how long to wait. */
function quotaDetails(status: number, retryDelayS: number | undefined, model: string): unknown[] | undefined {
  if (retryDelayS === undefined) return undefined;
  const retryInfo = { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryDelayS}s` };
  if (status !== 429) return [retryInfo];
  return [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count',
          quotaId: 'GenerateContentPaidTierInputTokensPerModelPerMinute',
          quotaDimensions: { location: 'global', model },
          quotaValue: '1000000',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [
        { description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' },
      ],
    },
    retryInfo,
  ];
}

function record(at: number, apiKey: string, model: string, apiVersion: string, body: GeminiRequestBody): GeminiRequest {
  const parts = (body.contents ?? []).flatMap((content) => content.parts ?? []);
  const image = parts.find((part) => part.inlineData)?.inlineData;
  return {
    at,
    apiKey,
    model,
    apiVersion,
    body,
    text: parts.map((part) => part.text ?? '').join(''),
    aspectRatio: body.generationConfig?.imageConfig?.aspectRatio,
    ...(image && { referenceImage: { mimeType: image.mimeType, bytes: Buffer.from(image.data, 'base64') } }),
  };
}

/**
 * `apiKey`: the key it accepts, or several (say one per worker process, so that each request's `apiKey`
 * tells which process sent it).
 */
export async function startFakeGemini(opts: {
  apiKey: string | readonly string[];
  /** How long every generation takes, as the real one takes 10 to 30 s (the benchmark uses 2 s). */
  latencyMs?: number;
  /** Answer images of a photo's weight (about 1.5 MB) instead of flat ones, for memory measures. */
  photoLike?: boolean;
}): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  const queue: GeminiScript[] = [];
  const keys: readonly string[] = typeof opts.apiKey === 'string' ? [opts.apiKey] : opts.apiKey;

  const server = await listen(async (req, res, raw) => {
    const at = Date.now();
    const match = /^\/(v1|v1beta)\/models\/([^/:]+):generateContent$/.exec(pathOf(req));
    if (req.method !== 'POST' || !match)
      return sendError(res, 404, `${req.method} ${pathOf(req)} is not served by the fake`);
    const [, apiVersion = '', model = ''] = match;

    const key = req.headers['x-goog-api-key'];
    if (!key) {
      return sendError(
        res,
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    }
    if (typeof key !== 'string' || !keys.includes(key)) {
      return sendError(res, 400, 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ]);
    }

    let body: GeminiRequestBody;
    try {
      body = JSON.parse(raw.toString('utf8')) as GeminiRequestBody;
    } catch {
      return sendError(res, 400, 'Invalid JSON payload received.');
    }
    const request = record(at, key, model, apiVersion, body);
    requests.push(request);
    const answered = (status: number) => {
      request.status = status;
    };

    if (!body.contents?.length) {
      answered(400);
      return sendError(res, 400, '* GenerateContentRequest.contents: contents is not specified\n');
    }
    const size = SIZES[request.aspectRatio ?? '1:1'];
    if (!size) {
      answered(400);
      return sendError(res, 400, `Unsupported aspect ratio: ${request.aspectRatio}`);
    }

    const next = queue.shift();
    if (next?.kind === 'hang') return;
    if (opts.latencyMs) await new Promise((resolve) => setTimeout(resolve, opts.latencyMs));
    if (next?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, next.ms));
    if (next?.kind === 'error') {
      answered(next.status);
      return sendError(res, next.status, next.message, quotaDetails(next.status, next.retryDelayS, model));
    }

    const promptTokenCount = Math.ceil(request.text.length / 4) + (request.referenceImage ? 258 : 0);
    const envelope = { modelVersion: model, responseId: randomId(22) };
    if (next?.kind === 'blocked') {
      const usageMetadata = { promptTokenCount, totalTokenCount: promptTokenCount };
      answered(200);
      return sendJson(res, 200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata, ...envelope });
    }

    let parts: Record<string, unknown>[];
    let pngs: Buffer[] = [];
    if (next?.kind === 'no-image') {
      parts = [{ text: 'I was unable to generate an image for this request.' }];
    } else {
      const [width, height] = next?.kind === 'image' ? [next.width, next.height] : size;
      // Gemini 3 sends a draft marked as a thought before the final image: clients must skip it.
      pngs = [
        await flatPngBase64(Math.ceil(width / 4), Math.ceil(height / 4), 60),
        opts.photoLike ? await photoLikeBase64(width, height) : await flatPngBase64(width, height, 200),
      ];
      parts = [
        { inlineData: { mimeType: 'image/png', data: imageSlot(0) }, thought: true },
        ...(body.generationConfig?.responseModalities?.includes('TEXT') ? [{ text: 'Here is the image.' }] : []),
        { inlineData: { mimeType: 'image/png', data: imageSlot(1) }, thoughtSignature: randomId(32) },
      ];
    }
    const candidatesTokenCount = next?.kind === 'no-image' ? 12 : 1120;
    answered(200);
    sendWithImages(
      res,
      {
        candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
        usageMetadata: {
          promptTokenCount,
          candidatesTokenCount,
          totalTokenCount: promptTokenCount + candidatesTokenCount,
          candidatesTokensDetails: [
            { modality: next?.kind === 'no-image' ? 'TEXT' : 'IMAGE', tokenCount: candidatesTokenCount },
          ],
        },
        ...envelope,
      },
      pngs,
    );
  });

  return {
    baseUrl: server.origin,
    requests,
    script: (...responses) => queue.push(...responses),
    close: server.close,
  };
}
