export { type AppDeps, app } from './app.ts';
export { buildServer } from './server.ts';
export { EventsTokens } from './services/events-tokens.ts';
