import type { HandlerMap } from '@mediaflow/queue';
import { type PersistenceDeps, persistBlog, persistPost } from './persist.ts';

/**
 * Every job kind of the persistence queue, with its handler. Each writes its record in the commit that
 * records its step's start and end, and the job's end with it.
 */
export const handlers: HandlerMap<'persistence', PersistenceDeps> = {
  'persist-post': {
    inOwnCommit: (payload, deps) => deps.inStepCommit(payload, (repositories) => persistPost(payload, repositories)),
  },
  'persist-blog': {
    inOwnCommit: (payload, deps) => deps.inStepCommit(payload, (repositories) => persistBlog(payload, repositories)),
  },
};
