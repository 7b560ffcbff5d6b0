import { ApiError } from '@google/genai';
import { startFakeGemini } from '@mediaflow/testing';
import { describe, expect, it } from 'vitest';
import { GeminiImageGenerator, pickImage, retryDelayOf } from './gemini.ts';

describe('retryDelayOf', () => {
  const apiError = (body: unknown) =>
    new ApiError({ status: 429, message: `got status: 429 . ${JSON.stringify(body)}` });

  it("reads a 429's RetryInfo delay", () => {
    const error = apiError({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' },
        ],
      },
    });
    expect(retryDelayOf(error)).toBe(2_500);
  });

  it('has none when the answer names none, or is not JSON', () => {
    expect(retryDelayOf(apiError({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } }))).toBeUndefined();
    expect(retryDelayOf(new ApiError({ status: 429, message: 'Too Many Requests' }))).toBeUndefined();
  });
});

describe('pickImage', () => {
  it('takes the last image part that is not a draft', () => {
    const image = pickImage({
      candidates: [
        {
          content: {
            parts: [
              { inlineData: { mimeType: 'image/png', data: Buffer.from('draft').toString('base64') }, thought: true },
              { text: 'here it is' },
              { inlineData: { mimeType: 'image/png', data: Buffer.from('final').toString('base64') } },
            ],
          },
        },
      ],
    } as never);
    expect(image.data.toString()).toBe('final');
  });

  it('calls a safety finish reason a block, not a missing image', () => {
    expect(() =>
      pickImage({ candidates: [{ finishReason: 'IMAGE_SAFETY', content: { parts: [] } }] } as never),
    ).toThrow(expect.objectContaining({ code: 'provider_blocked', retryable: false }));
  });
});

describe('GeminiImageGenerator', () => {
  it('gives up after its timeout with a retryable provider_timeout', async () => {
    const fake = await startFakeGemini({ apiKey: 'k' });
    try {
      fake.script({ kind: 'hang' });
      const generator = new GeminiImageGenerator({
        apiKey: 'k',
        model: 'gemini-3-pro-image-preview',
        baseUrl: fake.baseUrl,
        timeoutMs: 300,
      });
      await expect(generator.generate({ prompt: 'x', aspectRatio: '1:1' })).rejects.toMatchObject({
        code: 'provider_timeout',
        retryable: true,
      });
    } finally {
      await fake.close();
    }
  });

  it('reports a wrong API key as a permanent auth or rejection error', async () => {
    const fake = await startFakeGemini({ apiKey: 'right' });
    try {
      const generator = new GeminiImageGenerator({
        apiKey: 'wrong',
        model: 'gemini-3-pro-image-preview',
        baseUrl: fake.baseUrl,
        timeoutMs: 5_000,
      });
      await expect(generator.generate({ prompt: 'x', aspectRatio: '1:1' })).rejects.toMatchObject({ retryable: false });
    } finally {
      await fake.close();
    }
  });

  it('reports an unreachable API as retryable', async () => {
    const generator = new GeminiImageGenerator({
      apiKey: 'k',
      model: 'm',
      baseUrl: 'http://127.0.0.1:9',
      timeoutMs: 5_000,
    });
    await expect(generator.generate({ prompt: 'x', aspectRatio: '1:1' })).rejects.toMatchObject({
      code: 'provider_unavailable',
      retryable: true,
    });
  });
});
