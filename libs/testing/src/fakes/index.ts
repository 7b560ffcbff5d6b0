export type { CloudinaryUpload, FakeCloudinary } from './cloudinary.ts';
export { startFakeCloudinary } from './cloudinary.ts';
export type { FakeGemini, GeminiRequest, GeminiRequestBody, GeminiScript } from './gemini.ts';
export { startFakeGemini } from './gemini.ts';
export type { FakeImageKit, ImageKitUpload } from './imagekit.ts';
export { startFakeImageKit } from './imagekit.ts';
