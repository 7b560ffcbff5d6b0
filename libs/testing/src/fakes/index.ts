export type {
  CloudinaryAsset,
  CloudinaryOperation,
  CloudinaryRename,
  CloudinaryUpload,
  FakeCloudinary,
} from './cloudinary.ts';
export { startFakeCloudinary } from './cloudinary.ts';
export type { FakeGemini, GeminiRequest, GeminiRequestBody, GeminiScript } from './gemini.ts';
export { startFakeGemini } from './gemini.ts';
export type { FakeImageKit, ImageKitFile, ImageKitMove, ImageKitOperation, ImageKitUpload } from './imagekit.ts';
export { startFakeImageKit } from './imagekit.ts';
export type { FakeOtlpCollector, OtlpSpan } from './otlp.ts';
export { startFakeOtlpCollector } from './otlp.ts';
export type { VideoInfo } from './video.ts';
export { fakeMp4, probeVideo } from './video.ts';
