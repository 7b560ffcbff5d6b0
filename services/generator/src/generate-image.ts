import { randomBytes } from 'node:crypto';
import type { GeneratedAssetRow, GeneratedAssetsRepository, JobsRepository } from '@mediaflow/db';
import {
  type AspectRatio,
  GENERATED_FOLDER,
  type GenerateImagePayload,
  type GenerateImageResult,
  PermanentJobError,
  REFERENCE_IMAGE_INPUT,
} from '@mediaflow/domain';
import {
  type ImageGenerator,
  inspectImage,
  type MediaStore,
  nearestAspectRatio,
  toJpegAtRatio,
} from '@mediaflow/providers';
import { enhancePrompt } from './style-guidelines.ts';

export interface GeneratorDeps {
  jobs: Pick<JobsRepository, 'findInput'>;
  assets: GeneratedAssetsRepository;
  generator: ImageGenerator;
  store: MediaStore;
  /** How long a temporary generated image is kept unless a submission promotes it. */
  tempAssetTtlMs: number;
}

/**
 * Prompt (+ reference image) → aspect ratio → enhanced prompt → model → JPEG at that ratio →
 * temporary store → asset row with its provenance.
 */
export async function generateImage(payload: GenerateImagePayload, deps: GeneratorDeps): Promise<GenerateImageResult> {
  // A retry after the asset was recorded (the worker died before completing) must not generate twice.
  const existing = await deps.assets.findByJob(payload.jobId);
  if (existing) return toResult(existing);

  const reference = payload.hasReference ? await loadReference(payload.jobId, deps) : undefined;
  const aspectRatio: AspectRatio =
    payload.aspectRatio ?? (reference ? nearestAspectRatio(reference.width, reference.height) : '1:1');
  const enhancedPrompt = enhancePrompt(payload.prompt, aspectRatio);

  const generated = await deps.generator.generate({
    prompt: enhancedPrompt,
    aspectRatio,
    ...(reference ? { reference: { data: reference.data, mimeType: reference.contentType } } : {}),
  });
  const jpeg = await toJpegAtRatio(generated.data, aspectRatio);

  const stored = await deps.store.upload({
    source: jpeg.data,
    folder: GENERATED_FOLDER,
    publicId: `ai-generated-${Date.now()}-${randomBytes(4).toString('hex')}`,
    format: 'jpg',
    resourceType: 'image',
    quality: 'best',
  });

  const asset = await deps.assets.insert({
    ownerId: payload.ownerId,
    jobId: payload.jobId,
    prompt: payload.prompt,
    enhancedPrompt,
    model: deps.generator.model,
    aspectRatio,
    referenceSha256: reference?.sha256 ?? null,
    provider: stored.provider,
    providerId: stored.providerId,
    url: stored.url,
    width: jpeg.width,
    height: jpeg.height,
    bytes: stored.bytes,
    format: 'jpg',
    expiresAt: new Date(Date.now() + deps.tempAssetTtlMs),
    promotedAt: null,
    deletedAt: null,
  });
  return toResult(asset);
}

async function loadReference(jobId: string, deps: GeneratorDeps) {
  const input = await deps.jobs.findInput(jobId, REFERENCE_IMAGE_INPUT);
  if (!input)
    throw new PermanentJobError('invalid_input', 'the reference image of this job is missing; submit it again');
  const image = await inspectImage(input.data);
  if (!image)
    throw new PermanentJobError(
      'invalid_input',
      'the reference image cannot be read as JPEG, PNG or WebP; submit another',
    );
  return { ...input, width: image.width, height: image.height };
}

function toResult(asset: GeneratedAssetRow): GenerateImageResult {
  return {
    assetId: asset.id,
    url: asset.url,
    provider: asset.provider,
    width: asset.width,
    height: asset.height,
    aspectRatio: asset.aspectRatio,
    format: 'jpg',
  };
}
