/**
 * The configuration's schema: one JSON Schema for the whole merged configuration (file + environment
 * + flags), checked by Ajv (already in the tree as Fastify's validator, well kept, JSON Schema
 * standard). Each setting is ONE entry of {@link SETTINGS}: its type, range and default, plus
 * Basalt's annotations:
 *
 * - `env`: the `BASALT_*` variable that sets it (its text is converted by the setting's type:
 *   integers, `true`/`false`/`1`/`0`, comma-separated lists, `host:port`);
 * - `flag`: the command-line option that sets it (without `--`);
 * - `expected`: what a valid value looks like, for error messages;
 * - `secret`: never echoed in an error message or printed at boot;
 * - `hostPort`: also given as a `"host:port"` string.
 *
 * docs/configuration.md documents every key; a test checks it does.
 *
 * @example
 * // Adding a setting is one entry (and its line in docs/configuration.md):
 * queryTimeoutMs: int(100, 600_000, DEFAULT_QUERY_TIMEOUT_MS, { env: 'BASALT_QUERY_TIMEOUT_MS', expected: 'milliseconds from 100 to 600000' }),
 */
import { DEFAULT_QUERY_TIMEOUT_MS } from '../db/index.ts';

/** A JSON Schema node with Basalt's annotations. */
export interface SettingSchema {
  type?: 'string' | 'integer' | 'boolean' | 'array' | 'object' | ('object' | 'null')[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: readonly string[];
  items?: SettingSchema;
  properties?: Record<string, SettingSchema>;
  required?: string[];
  additionalProperties?: boolean;
  env?: string;
  flag?: string;
  expected?: string;
  secret?: boolean;
  hostPort?: boolean;
}

/** The annotation keywords Ajv must accept without acting on them. */
export const ANNOTATIONS = ['env', 'flag', 'expected', 'secret', 'hostPort'] as const;

const int = (minimum: number, maximum: number, def: number, more: Partial<SettingSchema> = {}): SettingSchema => ({
  type: 'integer', minimum, maximum, default: def, expected: `an integer from ${minimum} to ${maximum}`, ...more,
});
const bool = (def: boolean, more: Partial<SettingSchema> = {}): SettingSchema => ({ type: 'boolean', default: def, expected: 'true or false', ...more });
const str = (def: string, more: Partial<SettingSchema> = {}): SettingSchema => ({ type: 'string', default: def, expected: 'a string', ...more });
/** One line of text (no CR/LF: these end up in mail headers and logs). */
const line = (max: number, more: Partial<SettingSchema> = {}): SettingSchema => ({ type: 'string', maxLength: max, pattern: '^[^\\r\\n]*$', expected: `one line of at most ${max} characters`, ...more });
const hostPort = (more: Partial<SettingSchema>): SettingSchema => ({
  type: 'object',
  hostPort: true,
  additionalProperties: false,
  expected: '"host:port" (IPv6 as "[::1]:8090") or {"host": …, "port": …}',
  properties: {
    host: { type: 'string', minLength: 1, expected: 'a host name or IP address' },
    port: { type: 'integer', minimum: 0, maximum: 65535, expected: 'a port from 0 to 65535 (0: any free port)' },
  },
  ...more,
});
const rate = (def: number): SettingSchema => int(0, 1_000_000, def, { expected: 'a count from 0 to 1000000 (0: no limit)' });

/** Every top-level setting. Objects merge member by member across file, environment and flags. */
export const SETTINGS: Record<string, SettingSchema> = {
  http: hostPort({ default: {}, env: 'BASALT_HTTP', flag: 'http', properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1', expected: 'a host name or IP address' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8090, expected: 'a port from 0 to 65535 (0: any free port)' },
  } }),
  dataDir: str('./basalt_data', { minLength: 1, env: 'BASALT_DIR', flag: 'dir', expected: 'a directory path' }),
  databaseUrl: str('', { pattern: '^(postgres(ql)?://.*)?$', env: 'BASALT_DATABASE_URL', flag: 'database-url', secret: true, expected: 'a postgres:// URL, or empty for the embedded SQLite' }),
  databaseSchema: str('public', { pattern: '^[a-z_][a-z0-9_]{0,62}$', env: 'BASALT_DATABASE_SCHEMA', flag: 'database-schema', expected: 'a lowercase identifier (a-z, 0-9, _)' }),
  migrationsDir: str('./basalt_migrations', { minLength: 1, env: 'BASALT_MIGRATIONS_DIR', flag: 'migrations-dir', expected: 'a directory path' }),
  automigrate: bool(false, { env: 'BASALT_AUTOMIGRATE', flag: 'automigrate' }),
  logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'BASALT_LOG_LEVEL', flag: 'log-level', expected: 'one of fatal, error, warn, info, debug, trace, silent' },
  logFormat: { type: 'string', enum: ['auto', 'json', 'pretty'], default: 'auto', env: 'BASALT_LOG_FORMAT', flag: 'log-format', expected: 'auto (pretty on a terminal, JSON otherwise), json or pretty' },
  bodyLimit: int(1024, 1024 * 1024 * 1024, 1024 * 1024, { env: 'BASALT_BODY_LIMIT' }),
  tokenTtlSeconds: int(60, 60 * 60 * 24 * 30, 15 * 60, { env: 'BASALT_TOKEN_TTL' }),
  refreshTtlSeconds: int(60, 60 * 60 * 24 * 365, 30 * 24 * 60 * 60, { env: 'BASALT_REFRESH_TTL' }),
  publicUrl: str('', { pattern: '^(https?://[^\\s/]+(/\\S*)?)?$', env: 'BASALT_PUBLIC_URL', expected: 'an http:// or https:// URL, or empty to derive it from http' }),
  // Any origin, without credentials (Basalt's tokens travel in a header, never in cookies), as
  // PocketBase does; production apps list their origins. Never the literal `null` origin (sandboxed
  // frames, file: pages), never paths or wildcards inside a name.
  corsOrigins: {
    type: 'array', default: ['*'], env: 'BASALT_CORS_ORIGINS', expected: 'a list of "*" or origins like https://app.example.com',
    items: { type: 'string', pattern: '^(\\*|https?://[a-zA-Z0-9.-]+(:\\d{1,5})?)$', expected: '"*" or an origin like https://app.example.com (no path)' },
  },
  rateLimits: {
    type: 'object', default: {}, additionalProperties: false, expected: 'an object of limits',
    properties: {
      signInPerIp: rate(30), signInPerIdentity: rate(10), signUpPerIp: rate(20), refreshPerIp: rate(120),
      failureDelayMs: int(0, 1_000_000, 250, { expected: 'milliseconds from 0 to 1000000' }),
      emailRequestPerIp: rate(20), emailRequestPerIdentity: rate(5), otpSignInPerIp: rate(30), otpSignInPerIdentity: rate(10),
      emailConfirmPerIp: rate(30), emailConfirmPerIdentity: rate(10),
    },
  },
  tlsCert: str('', { env: 'BASALT_TLS_CERT', flag: 'tls-cert', expected: 'a PEM file path' }),
  tlsKey: str('', { env: 'BASALT_TLS_KEY', flag: 'tls-key', expected: 'a PEM file path' }),
  encryptionKeys: { type: 'array', default: [], env: 'BASALT_ENCRYPTION_KEYS', secret: true, expected: 'a list of "id:base64key" strings', items: { type: 'string', expected: 'an "id:base64key" string' } },
  trustedProxies: { type: 'array', default: [], env: 'BASALT_TRUSTED_PROXIES', expected: 'a list of IP addresses or CIDR ranges, e.g. ["10.0.0.0/8", "127.0.0.1"]', items: { type: 'string', format: 'ip-or-cidr', expected: 'an IP address or CIDR range such as 10.0.0.0/8' } },
  auditRetentionDays: int(0, 36500, 365, { env: 'BASALT_AUDIT_RETENTION_DAYS', expected: 'days from 0 (keep forever) to 36500' }),
  fastReads: bool(true, { env: 'BASALT_FAST_READS' }),
  // Longest a list query (page + COUNT, with filter and rules) may run before it is cancelled (docs/operations.md).
  queryTimeoutMs: int(100, 600_000, DEFAULT_QUERY_TIMEOUT_MS, { env: 'BASALT_QUERY_TIMEOUT_MS', expected: 'milliseconds from 100 to 600000' }),
  // Members are checked again by mail/validateSmtpConfig (security rules, defaults that depend on each other).
  smtp: {
    type: 'object', default: {}, additionalProperties: false, expected: 'an object {host, port, security, …}',
    properties: {
      host: line(253, { env: 'BASALT_SMTP_HOST', expected: 'a host name' }),
      port: { type: 'integer', minimum: 1, maximum: 65535, env: 'BASALT_SMTP_PORT', expected: 'a port from 1 to 65535' },
      security: { type: 'string', enum: ['tls', 'starttls', 'none'], env: 'BASALT_SMTP_SECURITY', expected: 'tls, starttls or none' },
      secure: { type: 'boolean', env: 'BASALT_SMTP_SECURE', expected: 'true or false' },
      allowInsecure: { type: 'boolean', env: 'BASALT_SMTP_ALLOW_INSECURE', expected: 'true or false' },
      username: line(500, { env: 'BASALT_SMTP_USERNAME' }),
      password: line(500, { env: 'BASALT_SMTP_PASSWORD', secret: true }),
      from: {
        type: 'object', additionalProperties: false, expected: 'an object {name, address}',
        properties: { name: line(100, { env: 'BASALT_SMTP_FROM_NAME' }), address: line(254, { env: 'BASALT_SMTP_FROM_ADDRESS', expected: 'an email address' }) },
      },
    },
  },
  appName: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\r\\n]*$', default: 'Basalt', env: 'BASALT_APP_NAME', expected: '1 to 100 characters on one line' },
  // Slow clients: a connection that has not sent its request headers within `headersMs` gets 408 and
  // is closed (slowloris); see docs/operations.md.
  timeouts: {
    type: 'object', default: {}, additionalProperties: false, expected: 'an object {headersMs, requestMs, keepAliveMs}',
    properties: {
      headersMs: int(1000, 600_000, 10_000, { env: 'BASALT_HEADERS_TIMEOUT_MS', expected: 'milliseconds from 1000 to 600000' }),
      requestMs: int(0, 86_400_000, 300_000, { env: 'BASALT_REQUEST_TIMEOUT_MS', expected: 'milliseconds from 0 (no limit) to 86400000' }),
      keepAliveMs: int(1000, 600_000, 72_000, { env: 'BASALT_KEEP_ALIVE_TIMEOUT_MS', expected: 'milliseconds from 1000 to 600000' }),
    },
  },
  // Prometheus metrics are off the public port unless a token guards them there; see docs/operations.md.
  metrics: {
    type: 'object', default: {}, additionalProperties: false, expected: 'an object {token, http}',
    properties: {
      token: { type: 'string', default: '', pattern: '^([!-~]{16,256})?$', env: 'BASALT_METRICS_TOKEN', secret: true, expected: '16 to 256 printable characters without spaces, or empty' },
      http: hostPort({ type: ['object', 'null'], default: null, required: ['port'], env: 'BASALT_METRICS_HTTP', flag: 'metrics-http', expected: '"host:port" of a separate metrics listener, or empty for none', properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1', expected: 'a host name or IP address' },
        port: { type: 'integer', minimum: 0, maximum: 65535, expected: 'a port from 0 to 65535 (0: any free port)' },
      } }),
    },
  },
};

/** Keys of the configuration file that are other names for a setting. */
export const ALIASES: Record<string, string> = { dir: 'dataDir' };

/** The JSON Schema of the whole configuration, as Ajv compiles it. */
export function configJsonSchema(): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties: SETTINGS };
}

/** Visit every setting node with its dotted path (`smtp.from.address`), parents before members. */
export function walkSettings(visit: (path: string[], node: SettingSchema) => void, nodes: Record<string, SettingSchema> = SETTINGS, prefix: string[] = []): void {
  for (const [key, node] of Object.entries(nodes)) {
    visit([...prefix, key], node);
    if (node.properties) walkSettings(visit, node.properties, [...prefix, key]);
  }
}
