export { type Config, ConfigError, loadConfig, loadConfigOrExit } from './config.ts';
