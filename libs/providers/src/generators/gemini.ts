import { ApiError, type GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { ProviderError, providerErrorFromNetwork, providerErrorFromStatus } from '../errors.ts';
import type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './image-generator.ts';

const PROVIDER = 'gemini';

// Finish reasons that mean "the model would not draw this": the same prompt will be refused again.
const REFUSALS = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

export interface GeminiOptions {
  apiKey: string;
  model: string;
  /** Another API base, such as a local fake; the real one when undefined. */
  baseUrl: string | undefined;
  timeoutMs: number;
}

/**
 * Gemini image generation through `@google/genai`. The SDK's own retries stay off: the queue retries
 * the job with backoff, so every attempt shows in the job's status.
 */
export class GeminiImageGenerator implements ImageGenerator {
  readonly model: string;
  private readonly client: GoogleGenAI;
  private readonly timeoutMs: number;

  constructor(options: GeminiOptions) {
    this.model = options.model;
    this.timeoutMs = options.timeoutMs;
    this.client = new GoogleGenAI({
      apiKey: options.apiKey,
      httpOptions: { timeout: options.timeoutMs, ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}) },
    });
  }

  async generate(request: GenerateImageRequest): Promise<GeneratedImage> {
    const parts: Array<{ text: string } | { inlineData: { mimeType: string; data: string } }> = [
      { text: request.prompt },
    ];
    if (request.reference) {
      parts.push({
        inlineData: { mimeType: request.reference.mimeType, data: request.reference.data.toString('base64') },
      });
    }
    let response: GenerateContentResponse;
    try {
      response = await this.client.models.generateContent({
        model: this.model,
        contents: [{ role: 'user', parts }],
        config: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: request.aspectRatio } },
      });
    } catch (error) {
      if (error instanceof ApiError)
        throw providerErrorFromStatus(PROVIDER, error.status, apiErrorDetail(error), error, retryDelayOf(error));
      throw providerErrorFromNetwork(PROVIDER, error, this.timeoutMs);
    }
    return pickImage(response);
  }
}

/** The last image part that is not a draft ("thought"); a refusal or an empty answer fails for good. */
export function pickImage(response: GenerateContentResponse): GeneratedImage {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    throw blocked(
      `the prompt was blocked (${blockReason}${response.promptFeedback?.blockReasonMessage ? `: ${response.promptFeedback.blockReasonMessage}` : ''})`,
    );
  }
  const candidate = response.candidates?.[0];
  const image = (candidate?.content?.parts ?? [])
    .filter((part) => part.inlineData?.data && !part.thought)
    .at(-1)?.inlineData;
  if (image?.data) return { data: Buffer.from(image.data, 'base64'), mimeType: image.mimeType ?? 'image/png' };

  const finishReason = candidate?.finishReason;
  if (finishReason && REFUSALS.has(finishReason)) throw blocked(`the model refused to draw it (${finishReason})`);
  const said = candidate?.content?.parts
    ?.map((part) => part.text ?? '')
    .join(' ')
    .trim();
  throw new ProviderError({
    provider: PROVIDER,
    code: 'provider_no_image',
    retryable: false,
    message: `Gemini answered without an image (finish reason ${finishReason ?? 'none'})${said ? `; it said: "${said.slice(0, 300)}"` : ''}. Rephrase the prompt to ask for a picture.`,
  });
}

function blocked(what: string): ProviderError {
  return new ProviderError({
    provider: PROVIDER,
    code: 'provider_blocked',
    retryable: false,
    message: `Gemini did not generate an image: ${what}. Change the prompt or the reference image and submit again.`,
  });
}

interface GoogleErrorBody {
  error?: { message?: string; details?: Array<{ '@type'?: string; retryDelay?: string }> };
}

/** ApiError messages embed the whole JSON body (Google's error shape), when there is one. */
function errorBody(error: ApiError): GoogleErrorBody | undefined {
  const json = error.message.indexOf('{');
  if (json < 0) return undefined;
  try {
    return JSON.parse(error.message.slice(json)) as GoogleErrorBody;
  } catch {
    return undefined;
  }
}

/** The poller wants the body's `error.message`, not the whole body. */
function apiErrorDetail(error: ApiError): string {
  return errorBody(error)?.error?.message ?? error.message;
}

/** A 429's `google.rpc.RetryInfo` detail says how long to wait, as a duration like "2s" or "1.5s". */
export function retryDelayOf(error: ApiError): number | undefined {
  const info = errorBody(error)?.error?.details?.find((detail) => detail['@type']?.endsWith('google.rpc.RetryInfo'));
  const seconds = Number.parseFloat(info?.retryDelay ?? '');
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
