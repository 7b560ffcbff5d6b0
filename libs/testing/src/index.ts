export { createTestDatabase, type TestDatabase } from './database.ts';
export * from './fakes/index.ts';
export { imageSize, makeImage } from './images.ts';
export {
  type CuttableProxy,
  type PrivateRedis,
  type ServiceProcess,
  sparePort,
  spawnNode,
  spawnService,
  startPrivateRedis,
  startProxy,
} from './processes.ts';
export { createTestRedis, type TestRedis } from './redis.ts';
export { signToken, TEST_JWT_SECRET } from './tokens.ts';
