/**
 * Structured JSON logs (pino). Secrets are redacted at the logger, whatever a caller passes in
 * (ARCHITECTURE invariant 5: secrets are never logged).
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Written in place of a redacted value. */
export const REDACTED = '[REDACTED]';

const SECRET_KEYS = ['password', 'passwordConfirm', 'oldPassword', 'token', 'refreshToken', 'accessToken', 'secret', 'apiKey'];

/**
 * Paths pino redacts. Secret-named keys are caught at the top level and up to two objects deep
 * (`*.password`, `*.*.password`; pino's paths have no recursive wildcard), plus credential headers
 * of requests and responses.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  level: string;
  /** Human-readable colored lines (development) instead of JSON. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to inspect the output. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line (e.g. `{ node: 'api-1' }`); `pid` and `hostname` are always there. */
  base?: Record<string, unknown>;
}

/**
 * Whether log lines should be human-readable: `pretty` always, `json` never, `auto` when standard
 * output is a terminal (a person is watching; log shippers read pipes and files, and get JSON).
 */
export function prettyLogs(format: 'auto' | 'json' | 'pretty', stdoutIsTTY: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTTY);
}

/**
 * A pino logger writing one JSON object per line: `level` (label), `time` (ISO 8601), `pid`,
 * `hostname`, `msg` and the logged fields, with secrets replaced by `[REDACTED]`. Hand it to Fastify as
 * `loggerInstance` so every request log line carries `reqId`.
 *
 * @example
 * const log = createLogger({ level: config.logLevel, pretty: prettyLogs(config.logFormat, process.stdout.isTTY) });
 * const app = Fastify({ loggerInstance: log });
 */
export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level,
    base: { pid: process.pid, hostname: hostname(), ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  };
  if (opts.pretty) {
    // Loaded only when asked for: production never pays for the prettifier.
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    const stream = pretty.build({
      colorize: opts.destination === undefined && process.stdout.isTTY,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: (opts.destination as NodeJS.WritableStream | undefined) ?? 1,
      sync: true,
    });
    return pino(options, stream);
  }
  return opts.destination ? pino(options, opts.destination as DestinationStream) : pino(options);
}

