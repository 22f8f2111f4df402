/**
 * One typed configuration (ARCHITECTURE invariant 7): defaults, then an optional JSON file, then
 * `BASALT_*` environment variables, then command-line flags; validated once at start. Nothing else
 * in Basalt reads `process.env`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { parseMasterKeys } from '../secrets/index.ts';
import { validateSmtpConfig, type SmtpConfig } from '../mail/index.ts';
import { DEFAULT_QUERY_TIMEOUT_MS } from '../db/index.ts';

/** The validated configuration every module receives. */
export interface BasaltConfig {
  /** Listen address. */
  http: { host: string; port: number };
  /** Data directory (SQLite file, generated keys). */
  dataDir: string;
  /** `postgres://…` to run on PostgreSQL; empty for the embedded SQLite default. */
  databaseUrl: string;
  /** PostgreSQL schema (default `public`). */
  databaseSchema: string;
  /** Folder of migration files (`basalt migrate`). */
  migrationsDir: string;
  /** Write a migration file for each schema change made through the API. */
  automigrate: boolean;
  /** pino level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest accepted JSON body, bytes. */
  bodyLimit: number;
  /** Access-token lifetime, seconds. */
  tokenTtlSeconds: number;
  /** Refresh-token lifetime, seconds (each use rotates it and starts the lifetime again). */
  refreshTtlSeconds: number;
  /** Public base URL (token issuer, OpenAPI server URL); derived from `http` when empty. */
  publicUrl: string;
  /** Browser origins allowed by CORS: `*` (any, without credentials) or exact origins. */
  corsOrigins: string[];
  /** Abuse limits on the auth endpoints (requests per window); see docs/collections.md. */
  rateLimits: RateLimitConfig;
  /** PEM certificate chain and private key files: when both are set, Basalt serves HTTPS (and HSTS). */
  tlsCert: string;
  tlsKey: string;
  /**
   * Master keys for encryption at rest, `id:base64key` (32 bytes), the first one active. Empty: a key
   * generated on first start in `<dataDir>/encryption.key` (fine on a laptop; clusters configure theirs).
   */
  encryptionKeys: string[];
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed (IPs or CIDRs, e.g. `10.0.0.0/8`): the client
   * address (rate limits, audit, sessions) is then the first untrusted hop. Empty: the socket peer.
   */
  trustedProxies: string[];
  /** Audit entries older than this many days are deleted (0 = keep forever). */
  auditRetentionDays: number;
  /** Answer plain record views by id on the fast read path (docs/decisions/006); off = through Fastify. */
  fastReads: boolean;
  /** Outgoing mail (verification, password reset, OTP, new-device notices); off while `host` is empty. See docs/auth-email.md. */
  smtp: SmtpConfig;
  /** The application's name in emails (`{APP_NAME}`); `publicUrl` is its `{APP_URL}`. */
  appName: string;
  /**
   * Longest a list query (page and COUNT, with the client's filter and the rules) may run, ms; past it
   * the request answers 400 `query_timeout` (PostgreSQL `statement_timeout`; SQLite: read workers and
   * a row guard). See docs/operations.md.
   */
  queryTimeoutMs: number;
}

/** Limits on the endpoints attackers hammer. Windows are fixed, per node cluster (kept in the database). */
export interface RateLimitConfig {
  /** Sign-in attempts per client IP per minute (any identity). */
  signInPerIp: number;
  /** Sign-in attempts per identity per 15 minutes (any IP): slows credential stuffing of one account. */
  signInPerIdentity: number;
  /** Sign-ups (auth-collection creates by non-superusers) per IP per hour. */
  signUpPerIp: number;
  /** Token refreshes per IP per minute. */
  refreshPerIp: number;
  /** Base of the progressive delay after failed sign-ins, ms (doubles per failure, at most 2 s). */
  failureDelayMs: number;
  /** Requests that send mail (verification, password reset, email change, OTP) per IP per hour. */
  emailRequestPerIp: number;
  /** The same per address (any IP) per hour: stops mail-bombing one inbox. */
  emailRequestPerIdentity: number;
  /** `auth-with-otp` attempts per IP per minute. */
  otpSignInPerIp: number;
  /** `auth-with-otp` attempts per OTP id per 15 minutes (an OTP also burns after 5 wrong codes). */
  otpSignInPerIdentity: number;
  /** `confirm-*` requests (verification, password reset, email change) per IP per 15 minutes. */
  emailConfirmPerIp: number;
  /** `confirm-*` requests per token per 15 minutes (bounds password guesses on email change). */
  emailConfirmPerIdentity: number;
}

/** Where a setting may come from, for error messages. */
type Source = Partial<Record<keyof BasaltConfig | 'http', unknown>>;

/** A configuration problem found at start; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Parse `host:port` (IPv6 as `[::1]:8090`). */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new ConfigError(`invalid --http "${value}": expected host:port, e.g. 127.0.0.1:8090`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`invalid port ${port}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function envOverrides(env: NodeJS.ProcessEnv): Source {
  const o: Source = {};
  if (env.BASALT_HTTP) o.http = parseHostPort(env.BASALT_HTTP);
  if (env.BASALT_DIR) o.dataDir = env.BASALT_DIR;
  if (env.BASALT_DATABASE_URL) o.databaseUrl = env.BASALT_DATABASE_URL;
  if (env.BASALT_DATABASE_SCHEMA) o.databaseSchema = env.BASALT_DATABASE_SCHEMA;
  if (env.BASALT_MIGRATIONS_DIR) o.migrationsDir = env.BASALT_MIGRATIONS_DIR;
  if (env.BASALT_AUTOMIGRATE) o.automigrate = env.BASALT_AUTOMIGRATE;
  if (env.BASALT_LOG_LEVEL) o.logLevel = env.BASALT_LOG_LEVEL;
  if (env.BASALT_BODY_LIMIT) o.bodyLimit = env.BASALT_BODY_LIMIT;
  if (env.BASALT_TOKEN_TTL) o.tokenTtlSeconds = env.BASALT_TOKEN_TTL;
  if (env.BASALT_REFRESH_TTL) o.refreshTtlSeconds = env.BASALT_REFRESH_TTL;
  if (env.BASALT_PUBLIC_URL) o.publicUrl = env.BASALT_PUBLIC_URL;
  if (env.BASALT_TLS_CERT) o.tlsCert = env.BASALT_TLS_CERT;
  if (env.BASALT_TLS_KEY) o.tlsKey = env.BASALT_TLS_KEY;
  if (env.BASALT_TRUSTED_PROXIES !== undefined) o.trustedProxies = env.BASALT_TRUSTED_PROXIES.split(',').map((x) => x.trim()).filter(Boolean);
  if (env.BASALT_AUDIT_RETENTION_DAYS) o.auditRetentionDays = env.BASALT_AUDIT_RETENTION_DAYS;
  if (env.BASALT_FAST_READS) o.fastReads = env.BASALT_FAST_READS;
  if (env.BASALT_ENCRYPTION_KEYS) o.encryptionKeys = env.BASALT_ENCRYPTION_KEYS.split(',').map((x) => x.trim()).filter(Boolean);
  if (env.BASALT_APP_NAME) o.appName = env.BASALT_APP_NAME;
  if (env.BASALT_QUERY_TIMEOUT_MS) o.queryTimeoutMs = env.BASALT_QUERY_TIMEOUT_MS;
  const smtp: Record<string, unknown> = {};
  if (env.BASALT_SMTP_HOST !== undefined) smtp.host = env.BASALT_SMTP_HOST;
  if (env.BASALT_SMTP_PORT) smtp.port = env.BASALT_SMTP_PORT;
  if (env.BASALT_SMTP_SECURE) smtp.secure = env.BASALT_SMTP_SECURE;
  if (env.BASALT_SMTP_SECURITY) smtp.security = env.BASALT_SMTP_SECURITY;
  if (env.BASALT_SMTP_ALLOW_INSECURE) smtp.allowInsecure = env.BASALT_SMTP_ALLOW_INSECURE;
  if (env.BASALT_SMTP_USERNAME !== undefined) smtp.username = env.BASALT_SMTP_USERNAME;
  if (env.BASALT_SMTP_PASSWORD !== undefined) smtp.password = env.BASALT_SMTP_PASSWORD;
  if (env.BASALT_SMTP_FROM_ADDRESS !== undefined || env.BASALT_SMTP_FROM_NAME !== undefined) {
    smtp.from = { ...(env.BASALT_SMTP_FROM_ADDRESS !== undefined ? { address: env.BASALT_SMTP_FROM_ADDRESS } : {}), ...(env.BASALT_SMTP_FROM_NAME !== undefined ? { name: env.BASALT_SMTP_FROM_NAME } : {}) };
  }
  if (Object.keys(smtp).length) o.smtp = smtp;
  if (env.BASALT_CORS_ORIGINS !== undefined) o.corsOrigins = env.BASALT_CORS_ORIGINS.split(',').map((x) => x.trim()).filter(Boolean);
  return o;
}

/** An IPv4/IPv6 address, optionally with a `/prefix`. */
function isIpOrCidr(s: string): boolean {
  const [addr, prefix, ...rest] = s.split('/');
  const kind = isIP(addr);
  if (!kind || rest.length) return false;
  if (prefix === undefined) return true;
  const n = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && n >= 0 && n <= (kind === 4 ? 32 : 128);
}

function asBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`${name} must be true or false`);
}

function asInt(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

/**
 * Build the configuration. `flags` are what the CLI parsed; `configFile` (or `BASALT_CONFIG`) names an
 * optional JSON file with the same keys.
 */
export function loadConfig(flags: Source = {}, env: NodeJS.ProcessEnv = process.env, configFile?: string): BasaltConfig {
  let file: Source = {};
  const path = configFile ?? env.BASALT_CONFIG;
  if (path) {
    if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as Source;
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    const unknown = Object.keys(file).filter((k) => !(k in defaults()));
    if (unknown.length) throw new ConfigError(`unknown config keys in ${path}: ${unknown.join(', ')}`);
  }
  const envSource = envOverrides(env);
  const merged: Source = { ...defaults(), ...file, ...envSource, ...stripUndefined(flags) };
  const http = typeof merged.http === 'string' ? parseHostPort(merged.http) : (merged.http as { host: string; port: number });
  const logLevel = String(merged.logLevel);
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  const databaseUrl = String(merged.databaseUrl ?? '');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('databaseUrl must start with postgres:// (leave it empty for SQLite)');
  const databaseSchema = String(merged.databaseSchema);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) throw new ConfigError('databaseSchema must be a lowercase identifier');
  const dataDir = resolve(String(merged.dataDir));
  const tlsCert = String(merged.tlsCert ?? '');
  const tlsKey = String(merged.tlsKey ?? '');
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new ConfigError('tlsCert and tlsKey go together: give both files, or neither');
  for (const f of [tlsCert, tlsKey]) if (f && !existsSync(f)) throw new ConfigError(`TLS file not found: ${f}`);
  const rl = { ...(defaults().rateLimits as RateLimitConfig), ...((merged.rateLimits ?? {}) as Partial<RateLimitConfig>) };
  for (const [k, v] of Object.entries(rl)) asInt(`rateLimits.${k}`, v, 0, 1_000_000);
  const corsOrigins = merged.corsOrigins as unknown;
  if (!Array.isArray(corsOrigins) || corsOrigins.some((o) => typeof o !== 'string' || (o !== '*' && !/^https?:\/\/[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(o)))) {
    // Never the literal `null` origin (sandboxed frames, file: pages), never paths or wildcards inside a name.
    throw new ConfigError('corsOrigins must be a list of "*" or origins like https://app.example.com');
  }
  const trustedProxies = merged.trustedProxies as unknown;
  if (!Array.isArray(trustedProxies) || trustedProxies.some((p) => typeof p !== 'string' || !isIpOrCidr(p))) {
    throw new ConfigError('trustedProxies must be a list of IP addresses or CIDR ranges, e.g. ["10.0.0.0/8", "127.0.0.1"]');
  }
  const encryptionKeys = merged.encryptionKeys as unknown;
  if (!Array.isArray(encryptionKeys) || encryptionKeys.some((k) => typeof k !== 'string')) throw new ConfigError('encryptionKeys must be a list of "id:base64key" strings');
  try {
    parseMasterKeys(encryptionKeys as string[]);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  // SMTP settings merge member by member: an env variable overrides one member of the file's `smtp`.
  const smtpMerged = [file.smtp, envSource.smtp, flags.smtp].reduce<Record<string, unknown>>((acc, part) => {
    if (part === undefined || part === null) return acc;
    if (typeof part !== 'object' || Array.isArray(part)) throw new ConfigError('smtp must be an object {host, port, secure, username, password, from: {name, address}}');
    const p = part as Record<string, unknown>;
    const from = p.from && typeof p.from === 'object' ? { ...(acc.from as object), ...(p.from as object) } : (p.from ?? acc.from);
    return { ...acc, ...p, from };
  }, {});
  let smtp: SmtpConfig;
  try {
    smtp = validateSmtpConfig(smtpMerged);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const appName = String(merged.appName ?? 'Basalt');
  if (appName.length === 0 || appName.length > 100 || /[\r\n]/.test(appName)) throw new ConfigError('appName must be 1–100 characters on one line');
  return {
    http,
    dataDir,
    databaseUrl,
    databaseSchema,
    migrationsDir: resolve(String(merged.migrationsDir)),
    automigrate: asBool('automigrate', merged.automigrate),
    logLevel: logLevel as BasaltConfig['logLevel'],
    bodyLimit: asInt('bodyLimit', merged.bodyLimit, 1024, 1024 * 1024 * 1024),
    tokenTtlSeconds: asInt('tokenTtlSeconds', merged.tokenTtlSeconds, 60, 60 * 60 * 24 * 30),
    refreshTtlSeconds: asInt('refreshTtlSeconds', merged.refreshTtlSeconds, 60, 60 * 60 * 24 * 365),
    publicUrl: String(merged.publicUrl || `${tlsCert ? 'https' : 'http'}://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}`),
    corsOrigins: corsOrigins as string[],
    rateLimits: rl,
    tlsCert: tlsCert ? resolve(tlsCert) : '',
    tlsKey: tlsKey ? resolve(tlsKey) : '',
    encryptionKeys: encryptionKeys as string[],
    trustedProxies: trustedProxies as string[],
    auditRetentionDays: asInt('auditRetentionDays', merged.auditRetentionDays, 0, 36500),
    fastReads: asBool('fastReads', merged.fastReads),
    smtp,
    appName,
    queryTimeoutMs: asInt('queryTimeoutMs', merged.queryTimeoutMs, 100, 600_000),
  };
}

function defaults(): Required<Source> & Record<string, unknown> {
  return {
    http: { host: '127.0.0.1', port: 8090 },
    dataDir: './basalt_data',
    databaseUrl: '',
    databaseSchema: 'public',
    migrationsDir: './basalt_migrations',
    automigrate: false,
    logLevel: 'info',
    bodyLimit: 1024 * 1024,
    tokenTtlSeconds: 15 * 60,
    refreshTtlSeconds: 30 * 24 * 60 * 60,
    publicUrl: '',
    // Any origin, without credentials (Basalt's tokens travel in a header, never in cookies), as
    // PocketBase does; production apps list their origins.
    corsOrigins: ['*'],
    rateLimits: {
      signInPerIp: 30, signInPerIdentity: 10, signUpPerIp: 20, refreshPerIp: 120, failureDelayMs: 250,
      emailRequestPerIp: 20, emailRequestPerIdentity: 5, otpSignInPerIp: 30, otpSignInPerIdentity: 10, emailConfirmPerIp: 30, emailConfirmPerIdentity: 10,
    },
    tlsCert: '',
    tlsKey: '',
    encryptionKeys: [],
    trustedProxies: [],
    auditRetentionDays: 365,
    fastReads: true,
    smtp: {},
    appName: 'Basalt',
    queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_MS,
  };
}

function stripUndefined(o: Source): Source {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Source;
}

/** The SQLite file inside the data directory. */
export function sqlitePath(config: BasaltConfig): string {
  return join(config.dataDir, 'data.db');
}

/** What a server should warn about at start (`basalt serve` logs each). */
export function startupWarnings(config: BasaltConfig): string[] {
  const out: string[] = [];
  if (!config.encryptionKeys.length && config.databaseUrl) {
    // On PostgreSQL several nodes may share the data; each would generate its own key and fail to
    // open the others' sealed values.
    out.push(`encryption at rest uses a key generated in this node's data directory (${join(config.dataDir, 'encryption.key')}): every node must share the same keys, so set encryptionKeys (BASALT_ENCRYPTION_KEYS) before running several nodes`);
  }
  return out;
}

/** The configuration as printed at boot: secrets (database password) redacted. */
export function redactedConfig(config: BasaltConfig): Record<string, unknown> {
  let databaseUrl = config.databaseUrl;
  if (databaseUrl) {
    try {
      const u = new URL(databaseUrl);
      if (u.password) u.password = '***';
      databaseUrl = u.toString();
    } catch {
      databaseUrl = '***';
    }
  }
  return { ...config, databaseUrl, encryptionKeys: config.encryptionKeys.map((k) => `${k.slice(0, k.indexOf(':'))}:***`), smtp: { ...config.smtp, password: config.smtp.password ? '***' : '' } };
}
