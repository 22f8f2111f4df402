/**
 * The kernel: configuration and the application lifecycle.
 */
export { createApp, VERSION, type BasaltApp, type CreateAppOptions } from './app.ts';
export {
  loadConfig, flagInput, parseHostPort, redactedConfig, startupWarnings, sqlitePath, knownEnvironmentVariables, unknownEnvironmentVariables, ConfigError,
  type BasaltConfig, type RateLimitConfig, type TimeoutConfig, type MetricsConfig, type ConfigInput, type ConfigProblem,
} from './config.ts';
export { SETTINGS, ALIASES, walkSettings, type SettingSchema } from './config-schema.ts';
