export {
  type CallOptions,
  type ClientOptions,
  createClient,
  type GenerateImageInput,
  type MediaflowClient,
  type MediaInput,
  type PageOptions,
  type SubmitBlogInput,
  type SubmitPostInput,
} from './client.ts';
export { MediaflowError } from './errors.ts';
export type { components, paths } from './schema.ts';
export { readServerSentEvents, type ServerSentEvent } from './sse.ts';
export * from './types.ts';
export type { UploadOptions, UploadSource } from './upload.ts';
export type { WatchOptions } from './watch.ts';
