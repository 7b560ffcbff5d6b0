import type { HandlerMap } from '@mediaflow/queue';
import { type PersistenceDeps, persistBlog, persistPost } from './persist.ts';

/** Every job kind of the persistence queue, with its handler. */
export const handlers: HandlerMap<'persistence', PersistenceDeps> = {
  'persist-post': persistPost,
  'persist-blog': persistBlog,
};
