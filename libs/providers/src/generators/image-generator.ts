import type { AspectRatio } from '@mediaflow/domain';

export interface GenerateImageRequest {
  /** The prompt as the model should see it (already enhanced). */
  prompt: string;
  aspectRatio: AspectRatio;
  reference?: { data: Buffer; mimeType: string };
}

export interface GeneratedImage {
  data: Buffer;
  mimeType: string;
}

/** A text-to-image model. Failures are ProviderErrors. */
export interface ImageGenerator {
  /** For logs and the asset's provenance, e.g. `gemini-3-pro-image-preview`. */
  readonly model: string;
  generate(request: GenerateImageRequest): Promise<GeneratedImage>;
}
