/**
 * The kernel: configuration and the application lifecycle.
 */
export { createApp, VERSION, type BasaltApp, type CreateAppOptions } from './app.ts';
export { loadConfig, parseHostPort, redactedConfig, startupWarnings, sqlitePath, ConfigError, type BasaltConfig, type RateLimitConfig } from './config.ts';
