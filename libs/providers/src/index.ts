export { type Delivery, deliveryFor, SRCSET_WIDTHS } from './delivery.ts';
export { ProviderError, type ProviderName } from './errors.ts';
export { buildImageGenerator, buildMediaStore, usesLocalStore } from './from-config.ts';
export { GeminiImageGenerator } from './generators/gemini.ts';
export type { GeneratedImage, GenerateImageRequest, ImageGenerator } from './generators/image-generator.ts';
export { LocalImageGenerator } from './generators/local.ts';
export { nearestAspectRatio } from './images/aspect-ratio.ts';
export { configureImageProcessing } from './images/image-processing.ts';
export { type ImageFormat, inspectImage, type JpegImage, sniffImageFormat, toJpegAtRatio } from './images/jpeg.ts';
export { type MediaKind, SNIFF_BYTES, sniffMediaKind } from './images/media-kind.ts';
export { CircuitBreakerStore } from './stores/circuit-breaker.ts';
export { CloudinaryStore } from './stores/cloudinary.ts';
export { FallbackStore } from './stores/fallback.ts';
export { ImageKitStore } from './stores/imagekit.ts';
export { LocalDiskStore } from './stores/local-disk.ts';
export {
  generatedImageMedia,
  type MediaStore,
  type PromoteRequest,
  type UploadRequest,
} from './stores/media-store.ts';
export { RetryingStore } from './stores/retrying.ts';
export { postWebhook, WebhookCallFailed, type WebhookResponse } from './webhooks/post.ts';
export {
  addressRefusal,
  type CheckedWebhookUrl,
  checkWebhookUrl,
  parseWebhookUrl,
  type ResolvedAddress,
  type ResolveHost,
  resolveHost,
  type WebhookUrlPolicy,
  WebhookUrlRefused,
} from './webhooks/ssrf.ts';
