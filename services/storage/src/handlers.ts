import type { HandlerMap } from '@mediaflow/queue';
import { promoteMedia, type StorageDeps } from './promote-media.ts';

/** Every job kind of the storage queue, with its handler. */
export const handlers: HandlerMap<'storage', StorageDeps> = {
  'promote-media': promoteMedia,
};
