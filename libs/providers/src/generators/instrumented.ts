import { observeProviderCall } from '@mediaflow/telemetry';
import type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './image-generator.ts';

/** Counts, times and traces every generation one generator runs. */
export class InstrumentedGenerator implements ImageGenerator {
  readonly model: string;
  private readonly inner: ImageGenerator;
  private readonly provider: string;

  constructor(inner: ImageGenerator, provider: 'gemini' | 'local') {
    this.inner = inner;
    this.model = inner.model;
    this.provider = provider;
  }

  generate(request: GenerateImageRequest): Promise<GeneratedImage> {
    return observeProviderCall(this.provider, 'generate', () => this.inner.generate(request));
  }
}
