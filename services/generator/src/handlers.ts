import type { HandlerMap } from '@mediaflow/queue';
import { type GeneratorDeps, generateImage } from './generate-image.ts';

/** Every job kind of the generation queue, with its handler. */
export const handlers: HandlerMap<'generation', GeneratorDeps> = {
  'generate-image': generateImage,
};
