export { type AppDeps, app } from './app.ts';
export { buildServer } from './server.ts';
