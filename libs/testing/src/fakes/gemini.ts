import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import sharp from 'sharp';
import { listen, pathOf, randomId, sendJson } from './http.ts';

export type GeminiScript =
  | { kind: 'error'; status: number; message?: string }
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

async function pngBase64(width: number, height: number, gray: number): Promise<string> {
  const image = sharp({ create: { width, height, channels: 3, background: { r: gray, g: gray, b: gray } } });
  return (await image.png().toBuffer()).toString('base64');
}

function record(model: string, apiVersion: string, body: GeminiRequestBody): GeminiRequest {
  const parts = (body.contents ?? []).flatMap((content) => content.parts ?? []);
  const image = parts.find((part) => part.inlineData)?.inlineData;
  return {
    model,
    apiVersion,
    body,
    text: parts.map((part) => part.text ?? '').join(''),
    aspectRatio: body.generationConfig?.imageConfig?.aspectRatio,
    ...(image && { referenceImage: { mimeType: image.mimeType, bytes: Buffer.from(image.data, 'base64') } }),
  };
}

export async function startFakeGemini(opts: { apiKey: string }): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  const queue: GeminiScript[] = [];

  const server = await listen(async (req, res, raw) => {
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
    if (key !== opts.apiKey) {
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
    const request = record(model, apiVersion, body);
    requests.push(request);

    if (!body.contents?.length)
      return sendError(res, 400, '* GenerateContentRequest.contents: contents is not specified\n');
    const size = SIZES[request.aspectRatio ?? '1:1'];
    if (!size) return sendError(res, 400, `Unsupported aspect ratio: ${request.aspectRatio}`);

    const next = queue.shift();
    if (next?.kind === 'hang') return;
    if (next?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, next.ms));
    if (next?.kind === 'error') return sendError(res, next.status, next.message);

    const promptTokenCount = Math.ceil(request.text.length / 4) + (request.referenceImage ? 258 : 0);
    const envelope = { modelVersion: model, responseId: randomId(22) };
    if (next?.kind === 'blocked') {
      const usageMetadata = { promptTokenCount, totalTokenCount: promptTokenCount };
      return sendJson(res, 200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata, ...envelope });
    }

    let parts: Record<string, unknown>[];
    if (next?.kind === 'no-image') {
      parts = [{ text: 'I was unable to generate an image for this request.' }];
    } else {
      const [width, height] = next?.kind === 'image' ? [next.width, next.height] : size;
      // Gemini 3 sends a draft marked as a thought before the final image: clients must skip it.
      parts = [
        {
          inlineData: { mimeType: 'image/png', data: await pngBase64(Math.ceil(width / 4), Math.ceil(height / 4), 60) },
          thought: true,
        },
        ...(body.generationConfig?.responseModalities?.includes('TEXT') ? [{ text: 'Here is the image.' }] : []),
        {
          inlineData: { mimeType: 'image/png', data: await pngBase64(width, height, 200) },
          thoughtSignature: randomId(32),
        },
      ];
    }
    const candidatesTokenCount = next?.kind === 'no-image' ? 12 : 1120;
    sendJson(res, 200, {
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
    });
  });

  return {
    baseUrl: server.origin,
    requests,
    script: (...responses) => queue.push(...responses),
    close: server.close,
  };
}
