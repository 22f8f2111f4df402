/**
 * One typed configuration (ARCHITECTURE invariant 9): defaults, then an optional JSON file, then
 * `BASALT_*` environment variables, then command-line flags, merged and validated once at start
 * against one schema (config-schema.ts). Nothing else in Basalt reads `process.env`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, ValidateFunction } from 'ajv';
import { parseMasterKeys } from '../secrets/index.ts';
import { validateSmtpConfig, type SmtpConfig } from '../mail/index.ts';
import { ALIASES, ANNOTATIONS, SETTINGS, configJsonSchema, walkSettings, type SettingSchema } from './config-schema.ts';

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
  /** Log lines: `pretty` (human-readable), `json` (one object per line), `auto` (pretty when stdout is a terminal). */
  logFormat: 'auto' | 'json' | 'pretty';
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
  /** How long slow clients may take (headers, whole request, idle keep-alive). */
  timeouts: TimeoutConfig;
  /** Who may read the Prometheus metrics, and where. */
  metrics: MetricsConfig;
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


/** How Basalt answers slow clients; see docs/operations.md. */
export interface TimeoutConfig {
  /** A connection must have sent its request line and headers within this many ms, or gets 408 and is closed (slowloris). */
  headersMs: number;
  /** A request (headers and body) must have arrived within this many ms; 0 = no limit. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this many ms (longer than a load balancer's 60 s). */
  keepAliveMs: number;
}

/** Where Prometheus scrapes `/metrics`; see docs/operations.md. */
export interface MetricsConfig {
  /** Bearer token a scraper must send (`Authorization: Bearer …`). With it (and no `http`), `/metrics` is served on the public port. */
  token: string;
  /** A separate listener that serves only `/metrics` (an internal address); null: none. */
  http: { host: string; port: number } | null;
}

/** One source's part of the configuration, keyed like the config file (the CLI's flags, tests' overrides). */
export type ConfigInput = { [K in keyof BasaltConfig]?: unknown } & Record<string, unknown>;

/** One thing wrong with the configuration: the key path (`http.port`) and what was expected. */
export interface ConfigProblem {
  path: string;
  /** Where the value came from: `config file ./basalt.json`, `BASALT_HTTP`, `--http`. */
  origin?: string;
  message: string;
}

/** A configuration problem found at start; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  /** Each problem with its key path (empty when the file itself cannot be read). */
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, problems: readonly ConfigProblem[] = []) {
    super(message);
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** One error naming every problem. */
  static of(problems: readonly ConfigProblem[]): ConfigError {
    const lines = problems.map((p) => `${p.path}${p.origin ? ` (${p.origin})` : ''}: ${p.message}`);
    return new ConfigError(lines.length === 1 ? `invalid configuration: ${lines[0]}` : `invalid configuration (${lines.length} problems):\n${lines.map((l) => `  - ${l}`).join('\n')}`, problems);
  }
}

type Json = Record<string, unknown>;

let compiled: ValidateFunction | undefined;

/** The schema's validator, compiled once, on first use (commands that read no configuration never pay for it). */
function validator(): ValidateFunction {
  if (!compiled) {
    // Loaded here, not at import: `basalt --help` and friends start without it.
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
    ajv.addVocabulary([...ANNOTATIONS]);
    ajv.addFormat('ip-or-cidr', isIpOrCidr);
    compiled = ajv.compile(configJsonSchema());
  }
  return compiled;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/;

/** Parse `host:port` (IPv6 as `[::1]:8090`; an empty host is 127.0.0.1). */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = HOST_PORT.exec(value.trim());
  if (!m || Number(m[3]) > 65535) throw new ConfigError(`invalid address "${value}": expected host:port, e.g. 127.0.0.1:8090`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
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

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(o: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), o);
}

function setPath(o: Json, path: readonly string[], value: unknown): void {
  let at = o;
  for (const k of path.slice(0, -1)) at = isObject(at[k]) ? (at[k] as Json) : (at[k] = {});
  at[path[path.length - 1]] = value;
}

/** The schema node at a key path, if the path names a setting. */
function nodeAt(path: readonly string[]): SettingSchema | undefined {
  let nodes: Record<string, SettingSchema> | undefined = SETTINGS;
  let node: SettingSchema | undefined;
  for (const k of path) {
    node = nodes?.[k] ?? (node?.items && /^\d+$/.test(k) ? node.items : undefined);
    if (!node) return undefined;
    nodes = node.properties;
  }
  return node;
}

/** The `env` or `flag` annotation of the setting at `path` or of the nearest object holding it. */
function nearest(path: readonly string[], annotation: 'env' | 'flag'): string | undefined {
  for (let i = path.length; i > 0; i--) {
    const v = nodeAt(path.slice(0, i))?.[annotation];
    if (v) return v;
  }
  return undefined;
}

/** True when the value at `path` (or around it) must never be echoed. */
function isSecretPath(path: readonly string[]): boolean {
  return path.some((_, i) => nodeAt(path.slice(0, i + 1))?.secret === true);
}

/** The text of an environment variable as the setting's type (unconvertible text stays text, for the schema to refuse). */
function fromEnv(node: SettingSchema, text: string): unknown {
  if (node.hostPort) return text;
  if (node.type === 'array') return text.split(',').map((x) => x.trim()).filter(Boolean);
  if (node.type === 'integer') return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
  if (node.type === 'boolean') return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text;
  return text;
}

/** The `BASALT_*` variables of `env` as a configuration source; empty numbers, booleans and choices count as unset. */
function envInput(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  walkSettings((path, node) => {
    const text = node.env ? env[node.env] : undefined;
    if (text === undefined || (text === '' && (node.type === 'integer' || node.type === 'boolean' || node.enum))) return;
    setPath(out, path, fromEnv(node, text));
  });
  return out;
}

/** The environment variables Basalt reads (`BASALT_CONFIG` names the file). */
export function knownEnvironmentVariables(): string[] {
  const names = ['BASALT_CONFIG'];
  walkSettings((_, node) => node.env && names.push(node.env));
  return names;
}

/** `BASALT_*` variables that configure nothing (typos); `serve` warns about each. The test suite's and the benchmark's variables are not settings. */
export function unknownEnvironmentVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(knownEnvironmentVariables());
  return Object.keys(env).filter((k) => k.startsWith('BASALT_') && !/^BASALT_(TEST|BENCH)_/.test(k) && !known.has(k)).sort();
}

/**
 * The command-line options of `values` (as `node:util` parseArgs gives them, by option name) as a
 * configuration source: each setting with a `flag` annotation.
 */
export function flagInput(values: Record<string, unknown>): ConfigInput {
  const out: Json = {};
  walkSettings((path, node) => {
    const v = node.flag ? values[node.flag] : undefined;
    if (v !== undefined && !(node.type === 'boolean' && v !== true)) setPath(out, path, v);
  });
  return out;
}

/** `"host:port"` strings become `{host, port}` (an empty string: none); text that does not parse stays, for the schema to refuse. */
function normaliseHostPorts(source: Json): void {
  walkSettings((path, node) => {
    const v = getPath(source, path);
    if (!node.hostPort || typeof v !== 'string') return;
    if (v.trim() === '' && Array.isArray(node.type) && node.type.includes('null')) return setPath(source, path, null);
    const m = HOST_PORT.exec(v.trim());
    if (m) setPath(source, path, { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) });
  });
}

/** Merge `source` into `into` member by member (arrays and scalars replace), noting where each value came from. */
function mergeInto(into: Json, source: Json, label: (path: string[]) => string, origins: Map<string, string>, prefix: string[] = []): void {
  for (const [k, v] of Object.entries(source)) {
    if (v === undefined) continue;
    const path = [...prefix, k];
    origins.set(path.join('.'), label(path));
    if (isObject(v) && isObject(into[k])) mergeInto(into[k] as Json, v, label, origins, path);
    else if (isObject(v)) {
      into[k] = {};
      mergeInto(into[k] as Json, v, label, origins, path);
    } else into[k] = v;
  }
}

/** `a.b[2].c` for Ajv's `/a/b/2/c`. */
function pathOf(pointer: string, extra?: string): string[] {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return extra === undefined ? parts : [...parts, extra];
}

function showPath(path: readonly string[]): string {
  return path.map((k, i) => (/^\d+$/.test(k) && i > 0 ? `[${k}]` : `${i ? '.' : ''}${k}`)).join('');
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** Edit distance, to suggest the key a typo meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]++;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function unknownKeyHint(key: string, known: string[]): string {
  const alias = Object.entries(ALIASES).find(([, to]) => to === key);
  const best = known.map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k.toLowerCase(), key.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
  if (best && best.d <= Math.max(1, Math.floor(key.length / 3))) return `unknown key; did you mean "${best.k}"?`;
  return known.length <= 12 ? `unknown key; expected one of ${known.join(', ')}` : `unknown key${alias ? '' : '; see docs/configuration.md for the keys'}`;
}

/** Where the value at `path` (or the object holding it) came from. */
function originOf(origins: Map<string, string>, path: readonly string[]): string | undefined {
  for (let i = path.length; i > 0; i--) {
    const o = origins.get(path.slice(0, i).join('.'));
    if (o) return o;
  }
  return undefined;
}

/** Turn Ajv's errors into one problem per key path, naming what was expected and where the value came from. */
function schemaProblems(errors: readonly ErrorObject[], origins: Map<string, string>): ConfigProblem[] {
  const byPath = new Map<string, ConfigProblem>();
  for (const e of errors) {
    const extra = e.keyword === 'additionalProperties' ? String((e.params as { additionalProperty: string }).additionalProperty)
      : e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : undefined;
    const path = pathOf(e.instancePath, extra);
    const key = showPath(path);
    if (byPath.has(key)) continue;
    const origin = originOf(origins, path);
    const node = (e.parentSchema ?? {}) as SettingSchema;
    let message: string;
    if (e.keyword === 'additionalProperties') message = unknownKeyHint(extra!, Object.keys(node.properties ?? {}));
    else if (e.keyword === 'required') message = `missing; expected ${nodeAt(path)?.expected ?? 'a value'}`;
    else message = `expected ${node.expected ?? e.message ?? 'another value'}${isSecretPath(path) ? '' : `, got ${show(e.data)}`}`;
    byPath.set(key, { path: key, origin, message });
  }
  return [...byPath.values()];
}

/**
 * Build the configuration. Sources, later ones winning member by member: the schema's defaults, the
 * JSON file `configFile` (or `BASALT_CONFIG`), the `BASALT_*` variables of `env`, then `flags` (keyed
 * like the file; the CLI builds them with {@link flagInput}). The merged whole is validated against
 * one schema ({@link SETTINGS}); every problem is reported with its key path in one {@link ConfigError}.
 *
 * @example
 * loadConfig(flagInput(values), process.env, values.config);
 */
export function loadConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env, configFile?: string): BasaltConfig {
  const problems: ConfigProblem[] = [];
  let file: Json = {};
  const path = configFile ?? env.BASALT_CONFIG;
  if (path) {
    if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object of settings, e.g. {"http": "127.0.0.1:8090"}`);
    file = parsed;
    for (const [alias, name] of Object.entries(ALIASES)) {
      if (!(alias in file)) continue;
      if (name in file) problems.push({ path: alias, origin: `config file ${path}`, message: `"${alias}" is another name for "${name}"; give one of them` });
      else file[name] = file[alias];
      delete file[alias];
    }
  }
  const sources: [Json, (p: string[]) => string][] = [
    [file, () => `config file ${path}`],
    [envInput(env), (p) => nearest(p, 'env') ?? 'environment'],
    [structuredClone(flags) as Json, (p) => { const flag = nearest(p, 'flag'); return flag ? `--${flag}` : 'command line'; }],
  ];
  const merged: Json = {};
  const origins = new Map<string, string>();
  for (const [source, label] of sources) {
    normaliseHostPorts(source);
    mergeInto(merged, source, label, origins);
  }
  const validate = validator();
  if (!validate(merged)) problems.push(...schemaProblems(validate.errors ?? [], origins));
  if (problems.length) throw ConfigError.of(problems);
  return finish(merged as unknown as Validated, origins);
}

/** The merged configuration once the schema accepted it (defaults filled in). */
type Validated = Omit<BasaltConfig, 'smtp'> & { smtp: Json };

/** Checks the schema cannot express (files exist, key material parses, SMTP security), then the typed config. */
function finish(v: Validated, origins: Map<string, string>): BasaltConfig {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, origin: originOf(origins, path.split('.')), message });
  if (Boolean(v.tlsCert) !== Boolean(v.tlsKey)) problem(v.tlsCert ? 'tlsKey' : 'tlsCert', 'tlsCert and tlsKey go together: give both files, or neither');
  for (const k of ['tlsCert', 'tlsKey'] as const) if (v[k] && !existsSync(v[k])) problem(k, `TLS file not found: ${v[k]}`);
  try {
    parseMasterKeys(v.encryptionKeys);
  } catch (e) {
    problem('encryptionKeys', (e as Error).message);
  }
  let smtp: SmtpConfig | undefined;
  try {
    smtp = validateSmtpConfig(v.smtp);
  } catch (e) {
    // Its messages start with the member they are about ("smtp.port must be …").
    const message = (e as Error).message;
    const member = /^(smtp\.[\w.]+) /.exec(message)?.[1];
    problem(member ?? 'smtp', member ? message.slice(member.length + 1) : message);
  }
  // Node refuses a headers limit longer than the whole request's.
  if (v.timeouts.requestMs > 0 && v.timeouts.requestMs < v.timeouts.headersMs) problem('timeouts.requestMs', `must be 0 (no limit) or at least timeouts.headersMs (${v.timeouts.headersMs})`);
  if (v.metrics.http && v.metrics.http.host === v.http.host && v.metrics.http.port === v.http.port && v.http.port !== 0) {
    problem('metrics.http', 'the metrics listener needs an address of its own, not the public http address');
  }
  if (problems.length || !smtp) throw ConfigError.of(problems);
  const { host, port } = v.http;
  return {
    ...v,
    http: { host, port },
    dataDir: resolve(v.dataDir),
    migrationsDir: resolve(v.migrationsDir),
    publicUrl: v.publicUrl || `${v.tlsCert ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tlsCert: v.tlsCert ? resolve(v.tlsCert) : '',
    tlsKey: v.tlsKey ? resolve(v.tlsKey) : '',
    smtp,
  };
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

/** The configuration as printed at boot: every `secret` setting redacted (the database URL keeps all but its password, encryption keys their ids). */
export function redactedConfig(config: BasaltConfig): Record<string, unknown> {
  const out = structuredClone(config) as unknown as Json;
  walkSettings((path, node) => {
    const v = getPath(out, path);
    if (!node.secret || v === '' || v === undefined || (Array.isArray(v) && v.length === 0)) return;
    if (Array.isArray(v)) return setPath(out, path, v.map((k) => `${String(k).slice(0, Math.max(0, String(k).indexOf(':')))}:***`));
    setPath(out, path, path.join('.') === 'databaseUrl' ? redactedUrl(String(v)) : '***');
  });
  return out;
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}
