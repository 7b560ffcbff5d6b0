export { type Config, ConfigError, ENV_VARIABLES, type EnvVariable, loadConfig, loadConfigOrExit } from './config.ts';
