export { handlers } from './handlers.ts';
export { promoteMedia, type StorageDeps } from './promote-media.ts';
export { storageService } from './service.ts';
