export { handlers } from './handlers.ts';
export { type PersistenceDeps, persistBlog, persistPost } from './persist.ts';
export { persistenceService } from './service.ts';
