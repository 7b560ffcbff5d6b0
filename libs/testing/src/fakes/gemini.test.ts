import type { GenerateContentResponse, Part } from '@google/genai';
import { ApiError, GoogleGenAI } from '@google/genai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGemini } from './gemini.ts';
import { startFakeGemini } from './gemini.ts';

const model = 'gemini-3-pro-image-preview';
let fake: FakeGemini;
let ai: GoogleGenAI;

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: 'gemini-key' });
  ai = new GoogleGenAI({ apiKey: 'gemini-key', httpOptions: { baseUrl: fake.baseUrl } });
});
afterAll(() => fake.close());

function generate(client: GoogleGenAI, parts: Part[], aspectRatio = '16:9'): Promise<GenerateContentResponse> {
  return client.models.generateContent({
    model,
    contents: [{ role: 'user', parts }],
    config: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio } },
  });
}

// What client code must do: the last inlineData part that is not a draft thought.
function finalImage(response: GenerateContentResponse): Buffer | undefined {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  const data = parts.filter((part) => part.inlineData && !part.thought).at(-1)?.inlineData?.data;
  return data === undefined ? undefined : Buffer.from(data, 'base64');
}

async function sizeOf(image: Buffer | undefined): Promise<[number, number]> {
  const { width, height } = await sharp(image).metadata();
  return [width, height];
}

describe('fake Gemini driven by @google/genai', () => {
  it('answers with a PNG at the asked aspect ratio after a draft thought, and records the request', async () => {
    const response = await generate(ai, [{ text: 'a red fox' }, { text: ' at dawn' }]);
    const parts = response.candidates?.[0]?.content?.parts ?? [];
    expect(parts[0]?.thought).toBe(true);
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(await sizeOf(finalImage(response))).toEqual([1344, 768]);

    const request = fake.requests.at(-1);
    expect(request).toMatchObject({ model, apiVersion: 'v1', text: 'a red fox at dawn', aspectRatio: '16:9' });
    expect(request?.body.generationConfig?.responseModalities).toEqual(['IMAGE']);
    expect(request?.referenceImage).toBeUndefined();
  });

  it('maps each aspect ratio to the model output size', async () => {
    expect(await sizeOf(finalImage(await generate(ai, [{ text: 'x' }], '9:16')))).toEqual([768, 1344]);
    expect(await sizeOf(finalImage(await generate(ai, [{ text: 'x' }], '4:3')))).toEqual([1184, 864]);
    const noRatio = await ai.models.generateContent({
      model,
      contents: 'x',
      config: { responseModalities: ['IMAGE'] },
    });
    expect(await sizeOf(finalImage(noRatio))).toEqual([1024, 1024]);
  });

  it('records a reference image and serves v1beta too', async () => {
    const beta = new GoogleGenAI({
      apiKey: 'gemini-key',
      httpOptions: { baseUrl: fake.baseUrl, apiVersion: 'v1beta' },
    });
    const reference = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0f0' } })
      .png()
      .toBuffer();
    await generate(beta, [
      { text: 'restyle' },
      { inlineData: { mimeType: 'image/png', data: reference.toString('base64') } },
    ]);
    expect(fake.requests.at(-1)).toMatchObject({
      apiVersion: 'v1beta',
      referenceImage: { mimeType: 'image/png', bytes: reference },
    });
  });

  it('refuses a wrong API key like the real API', async () => {
    const wrong = new GoogleGenAI({ apiKey: 'nope', httpOptions: { baseUrl: fake.baseUrl } });
    const error = await generate(wrong, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect(JSON.parse((error as ApiError).message)).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.' },
    });
  });

  it('plays scripted responses once each, then returns to the default', async () => {
    fake.script(
      { kind: 'error', status: 429 },
      { kind: 'error', status: 503, message: 'overloaded' },
      { kind: 'blocked' },
      { kind: 'image', width: 300, height: 200 },
      { kind: 'no-image' },
    );
    const rateLimited = await generate(ai, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(rateLimited).toMatchObject({ status: 429 });
    expect(JSON.parse((rateLimited as ApiError).message).error.status).toBe('RESOURCE_EXHAUSTED');
    const unavailable = await generate(ai, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(JSON.parse((unavailable as ApiError).message).error).toEqual({
      code: 503,
      message: 'overloaded',
      status: 'UNAVAILABLE',
    });

    const blocked = await generate(ai, [{ text: 'x' }]);
    expect(blocked.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
    expect(blocked.candidates).toBeUndefined();

    expect(await sizeOf(finalImage(await generate(ai, [{ text: 'x' }])))).toEqual([300, 200]);

    const textOnly = await generate(ai, [{ text: 'x' }]);
    expect(finalImage(textOnly)).toBeUndefined();
    expect(textOnly.text).toBeTruthy();

    expect(await sizeOf(finalImage(await generate(ai, [{ text: 'x' }])))).toEqual([1344, 768]);
  });

  it('sends a 429 with the retry delay in RetryInfo, as the real API does', async () => {
    fake.script({ kind: 'error', status: 429, retryDelayS: 2 }, { kind: 'error', status: 503, retryDelayS: 1.5 });
    const rateLimited = await generate(ai, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(rateLimited).toBeInstanceOf(ApiError);
    const { error } = JSON.parse((rateLimited as ApiError).message);
    expect(error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    expect(error.details.map((detail: { '@type': string }) => detail['@type'])).toEqual([
      'type.googleapis.com/google.rpc.QuotaFailure',
      'type.googleapis.com/google.rpc.Help',
      'type.googleapis.com/google.rpc.RetryInfo',
    ]);
    expect(error.details.at(-1)).toEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' });

    const unavailable = await generate(ai, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(JSON.parse((unavailable as ApiError).message).error.details).toEqual([
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' },
    ]);
    // Without a delay, no details at all.
    fake.script({ kind: 'error', status: 429 });
    const bare = await generate(ai, [{ text: 'x' }]).catch((e: unknown) => e);
    expect(JSON.parse((bare as ApiError).message).error.details).toBeUndefined();
  });

  it('records when each request arrived, how it was answered and with which of its keys', async () => {
    const own = await startFakeGemini({ apiKey: ['key-a', 'key-b'] });
    try {
      const client = (key: string) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: own.baseUrl } });
      const before = Date.now();
      own.script({ kind: 'error', status: 429, retryDelayS: 2 }, { kind: 'slow', ms: 150 });
      await generate(client('key-a'), [{ text: 'x' }]).catch(() => undefined);
      const slow = generate(client('key-b'), [{ text: 'x' }]);
      await expect.poll(() => own.requests.length).toBe(2);
      expect(own.requests[1]?.status, 'unanswered while it is held').toBeUndefined();
      await slow;
      expect(own.requests.map(({ apiKey, status }) => [apiKey, status])).toEqual([
        ['key-a', 429],
        ['key-b', 200],
      ]);
      const [first, second] = own.requests.map((request) => request.at);
      expect(first).toBeGreaterThanOrEqual(before);
      expect(second).toBeGreaterThanOrEqual(first ?? Number.POSITIVE_INFINITY);
      expect(second).toBeLessThanOrEqual(Date.now());
      // A key it does not hold is refused, and not recorded.
      await expect(generate(client('key-c'), [{ text: 'x' }])).rejects.toMatchObject({ status: 400 });
      expect(own.requests).toHaveLength(2);
    } finally {
      await own.close();
    }
  });

  it('hangs on request, honouring the SDK timeout, and close() ends a hanging request', async () => {
    const own = await startFakeGemini({ apiKey: 'k' });
    own.script({ kind: 'hang' });
    const timed = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: own.baseUrl, timeout: 200 } });
    await expect(generate(timed, [{ text: 'x' }])).rejects.toThrow();

    own.script({ kind: 'hang' });
    const pending = generate(new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: own.baseUrl } }), [{ text: 'x' }]);
    const settled = pending.catch((e: unknown) => e);
    await expect.poll(() => own.requests.length).toBe(2);
    await own.close();
    expect(await settled).toBeInstanceOf(Error);
  });

  it('takes its latency on every generation, and answers photo-weight images when asked', async () => {
    const own = await startFakeGemini({ apiKey: 'k', latencyMs: 300, photoLike: true });
    try {
      const client = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: own.baseUrl } });
      const started = performance.now();
      const [one, two] = await Promise.all([
        generate(client, [{ text: 'a' }], '1:1'),
        generate(client, [{ text: 'b' }], '1:1'),
      ]);
      // A lower bound only (timers never fire early); concurrent calls wait side by side, not in turn.
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
      const image = finalImage(one);
      expect(await sizeOf(image)).toEqual([1024, 1024]);
      expect(image?.length).toBeGreaterThan(1024 * 1024);
      expect(finalImage(two)?.equals(image ?? Buffer.alloc(0))).toBe(true);
    } finally {
      await own.close();
    }
  });
});
