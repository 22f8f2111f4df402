/**
 * The `basalt` command: `serve`, `superuser upsert`, `migrate up|down|status|create`,
 * `keys rotate-signing|rotate|new-master`.
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createApp, flagInput, loadConfig, redactedConfig, startupWarnings, unknownEnvironmentVariables, ConfigError, VERSION, type BasaltApp, type BasaltConfig } from '../app/index.ts';
import { createMigrationFile, migrateDown, migrateUp, migrationStatus } from '../schema/index.ts';
import { isBasaltError } from '../errors/index.ts';
import { rotateTokenKeys } from '../auth/index.ts';
import { emptyRequest, rotateSealedValues } from '../records/index.ts';
import { newMasterKeyEntry, parseMasterKeys } from '../secrets/index.ts';
import { createLogger, prettyLogs } from '../telemetry/index.ts';

const COMMON_OPTIONS = {
  dir: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  'migrations-dir': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const COMMON_HELP = `  --dir PATH              data directory (default ./basalt_data; env BASALT_DIR)
  --database-url URL      postgres://… to run on PostgreSQL (env BASALT_DATABASE_URL); SQLite when absent
  --database-schema NAME  PostgreSQL schema (default public; env BASALT_DATABASE_SCHEMA)
  --migrations-dir PATH   migration files (default ./basalt_migrations; env BASALT_MIGRATIONS_DIR)
  --config FILE           JSON configuration file (env BASALT_CONFIG; every key: docs/configuration.md)
  -h, --help              show this help`;

const HELP: Record<string, string> = {
  main: `basalt ${VERSION} — a self-hosted backend: collections, REST API, rules, change log

Usage: basalt <command> [options]

Commands:
  serve                          start the server
  superuser upsert EMAIL PASS    create or update a superuser
  migrate up|down|status|create  manage schema migrations
  keys rotate-signing            start signing access tokens with a new key
  keys rotate                    re-wrap encrypted values with the active encryption key
  keys new-master [ID]           print a new encryption key entry (id:base64key)

Run "basalt <command> --help" for a command's options.`,
  serve: `Usage: basalt serve [options]

Starts Basalt: applies pending migrations, then serves HTTP until SIGTERM/SIGINT.

  --http HOST:PORT        listen address (default 127.0.0.1:8090; env BASALT_HTTP)
  --automigrate           write a migration file for each schema change made through the API
  --tls-cert FILE         PEM certificate chain: serve HTTPS (with --tls-key; env BASALT_TLS_CERT)
  --tls-key FILE          PEM private key (env BASALT_TLS_KEY)
  --log-level LEVEL       fatal|error|warn|info|debug|trace|silent (default info)
  --log-format FORMAT     auto|json|pretty (default auto: pretty on a terminal, JSON otherwise)
  --metrics-http HOST:PORT
                          serve /metrics on this separate (internal) address (env BASALT_METRICS_HTTP)
${COMMON_HELP}`,
  superuser: `Usage: basalt superuser upsert EMAIL PASSWORD [options]

Creates the superuser, or sets the password of an existing one.

${COMMON_HELP}`,
  keys: `Usage: basalt keys <rotate-signing|rotate|new-master [ID]> [options]

  rotate-signing   start signing access tokens with a new ES256 key. The previous key keeps
                   verifying the tokens it signed until they expire; running servers pick the new
                   key up on their own.
  rotate [--reencrypt]
                   re-wrap every encrypted value (secret fields, also inside the change log, TOTP
                   secrets, OAuth tokens, stored idempotent answers) with the active encryption key,
                   the first of encryptionKeys (env BASALT_ENCRYPTION_KEYS). Safe to interrupt and
                   to run again; exits 1 when a value cannot be opened with the configured keys,
                   naming where it is (table, row, field), never the value. --reencrypt seals
                   every value anew under a fresh data key instead (after a key leak; slower,
                   and an interrupted run starts over).
  new-master [ID]  print a new encryption key entry "ID:base64key" (ID defaults to k<date-time>)

Rotating the encryption key: put the new entry first in encryptionKeys and keep the old one after
it, restart the servers, run "basalt keys rotate" until it exits 0, then remove the old entry.

${COMMON_HELP}`,
  migrate: `Usage: basalt migrate <up|down [N]|status|create NAME> [options]

  up           apply every pending migration
  down [N]     revert the last N applied migrations (default 1)
  status       list migrations and whether they are applied
  create NAME  write an empty migration file to fill in

${COMMON_HELP}`,
};

class UsageError extends Error {}

function configFrom(values: Record<string, unknown>): BasaltConfig {
  // Each setting names its flag in the schema (app/config-schema.ts); parse() accepts only the
  // options of the command, so a flag of another command cannot reach here.
  return loadConfig(flagInput(values), process.env, values.config as string | undefined);
}

/** The logger of a command: the configured level and format (pretty on a terminal unless told otherwise). */
function loggerFor(config: BasaltConfig, level: string = config.logLevel) {
  return createLogger({ level, pretty: prettyLogs(config.logFormat, process.stdout.isTTY === true) });
}

function parse(args: string[], extra: ParseArgsConfig['options'] = {}) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    http: { type: 'string' }, automigrate: { type: 'boolean' }, 'log-level': { type: 'string' }, 'log-format': { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'metrics-http': { type: 'string' },
  });
  if (values.help) return print(HELP.serve);
  if (positionals.length) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const config = configFrom(values);
  const app = await createApp(config, { runMigrations: true, logger: loggerFor(config) });
  app.logger.info({ config: redactedConfig(config), database: app.db.description }, 'configuration');
  for (const warning of startupWarnings(config)) app.logger.warn(warning);
  for (const name of unknownEnvironmentVariables(process.env)) app.logger.warn(`${name} is not a Basalt setting and is ignored (the variables are listed in docs/configuration.md)`);
  const address = await app.listen();
  app.logger.info(`Basalt ${VERSION} serving at ${address} (REST ${address}/api/, docs ${address}/api/docs)`);
  const metricsUrl = app.metricsUrl();
  if (metricsUrl) app.logger.info(`metrics at ${metricsUrl}/metrics`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    app.close().then(
      () => process.exit(0),
      (e: unknown) => {
        app.logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // After the signal handlers: the check's first list read may start a read worker, which can take a
  // while on a busy machine, and a SIGTERM meanwhile must still shut down gracefully.
  hasSuperuser(app).then(
    (has) => { if (!has && !stopping) app.logger.warn(firstSuperuserHint(config, values)); },
    (e: unknown) => app.logger.debug({ err: e }, 'could not check for a superuser'),
  );
  return -1; // keep running
}

async function superuser(args: string[]): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) return print(HELP.superuser);
  const [action, email, password, ...rest] = positionals;
  if (action !== 'upsert' || !email || !password || rest.length) throw new UsageError('usage: basalt superuser upsert EMAIL PASSWORD');
  const config = configFrom(values);
  return withApp(config, async (app) => {
    const result = await app.auth.upsertSuperuser(email, password);
    process.stdout.write(`superuser ${email} ${result}\n`);
  });
}

/** True once `_superusers` has a record. */
async function hasSuperuser(app: BasaltApp): Promise<boolean> {
  const ctx = { principal: { kind: 'superuser' as const, record: { id: 'cli' } }, request: emptyRequest() };
  const page = await app.records.list(ctx, '_superusers', { perPage: '1', skipTotal: 'true', fields: 'id' });
  return page.items.length > 0;
}

/**
 * What a server on an empty database tells its operator: the command that creates the first
 * superuser, with the options that select this server's data. Nothing secret: a database URL is
 * never repeated (it may hold a password), only named.
 */
function firstSuperuserHint(config: BasaltConfig, values: Record<string, unknown>): string {
  const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const options = [
    values.config !== undefined ? `--config ${quote(String(values.config))}` : '',
    values.dir !== undefined ? `--dir ${quote(config.dataDir)}` : '',
    values['database-url'] !== undefined ? '--database-url URL' : '',
    values['database-schema'] !== undefined ? `--database-schema ${config.databaseSchema}` : '',
  ].filter(Boolean).join(' ');
  const sameEnv = config.databaseUrl && values['database-url'] === undefined ? ' (with the same BASALT_* environment as this server)' : '';
  return `no superuser exists yet: create the first one with \`npx basalt superuser upsert EMAIL PASSWORD${options ? ` ${options}` : ''}\`${sameEnv}, then sign in at POST /api/collections/_superusers/auth-with-password`;
}

/** Run a one-shot command against the configured database, then close it. */
async function withApp(config: BasaltConfig, work: (app: BasaltApp) => Promise<void>): Promise<number> {
  const app = await createApp(config, { logger: loggerFor(config, 'warn') });
  try {
    await work(app);
    return 0;
  } finally {
    await app.close();
  }
}

async function keys(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { reencrypt: { type: 'boolean' } });
  if (values.help) return print(HELP.keys);
  const reencrypt = (values as Record<string, unknown>).reencrypt === true;
  if (reencrypt && positionals[0] !== 'rotate') throw new UsageError('--reencrypt goes with "keys rotate" only');
  if (positionals[0] === 'new-master') return newMaster(positionals.slice(1));
  if (positionals.length === 1 && positionals[0] === 'rotate') return rotateEncryption(configFrom(values), reencrypt);
  if (positionals.length !== 1 || positionals[0] !== 'rotate-signing') throw new UsageError('usage: basalt keys rotate-signing|rotate|new-master [ID]');
  const config = configFrom(values);
  return withApp(config, async (app) => {
    const kid = await rotateTokenKeys(app.db, config.tokenTtlSeconds);
    await app.audit.record({ action: 'keys.rotate_signing', outcome: 'success', actor: 'cli', target: `kid:${kid}` });
    process.stdout.write(`signing key rotated: new kid ${kid}\n`);
  });
}

/** `basalt keys new-master [ID]`: a fresh master key entry on stdout (nothing else, so it can be piped). */
function newMaster(rest: string[]): number {
  if (rest.length > 1) throw new UsageError(`unexpected argument: ${rest[1]}`);
  // Default id: the time, so keys made on different occasions never clash (k20260115-093012).
  const id = rest[0] ?? `k${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
  const entry = newMasterKeyEntry(id);
  try {
    parseMasterKeys([entry]);
  } catch {
    throw new UsageError('the key id must be 1 to 32 characters of A-Z, a-z, 0-9, "_" or "-"');
  }
  return print(entry);
}

/**
 * `basalt keys rotate [--reencrypt]`: re-wrap every sealed value with the active master key (or seal
 * each anew under a fresh data key). Audited; prints counts and locations, never a key or a value.
 */
async function rotateEncryption(config: BasaltConfig, reencrypt: boolean): Promise<number> {
  let code = 0;
  const done = await withApp(config, async (app) => {
    let r: Awaited<ReturnType<typeof rotateSealedValues>>;
    try {
      r = await rotateSealedValues(app.db, app.registry, app.secrets, { reencrypt });
    } catch (e) {
      // A run that broke off is audited too (batches committed before it stay done; run it again).
      await app.audit.record({ action: 'keys.rotate_encryption', outcome: 'failure', actor: 'cli', target: `kid:${app.secrets.activeKeyId}`, details: { reencrypt, reason: isBasaltError(e) ? e.code : 'error' } });
      throw e;
    }
    const ok = r.unreadable === 0 && r.changed === 0;
    await app.audit.record({
      action: 'keys.rotate_encryption', outcome: ok ? 'success' : 'failure', actor: 'cli', target: `kid:${r.activeKeyId}`,
      details: { reencrypt, rewrapped: r.rewrapped, current: r.current, unreadable: r.unreadable, changed: r.changed },
    });
    process.stdout.write(`active encryption key "${r.activeKeyId}": ${reencrypt ? 're-encrypted' : 're-wrapped'} ${r.rewrapped}, already current ${r.current}, unreadable ${r.unreadable}, changed during rotation ${r.changed}\n`);
    for (const at of r.unreadableAt) process.stderr.write(`basalt: cannot open ${at.table} ${at.record} ${at.field}\n`);
    if (r.unreadable > r.unreadableAt.length) process.stderr.write(`basalt: … and ${r.unreadable - r.unreadableAt.length} more\n`);
    if (r.unreadable) process.stderr.write(`basalt: ${r.unreadable} value(s) cannot be opened with the configured encryption keys (altered, or sealed with a key that is not configured); do not remove old keys yet\n`);
    if (r.changed) process.stderr.write(`basalt: ${r.changed} value(s) were written while rotating; run "basalt keys rotate" again\n`);
    if (!ok) code = 1;
  });
  return code || done;
}

async function migrate(args: string[]): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) return print(HELP.migrate);
  const [action, arg, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const config = configFrom(values);
  if (action === 'create') {
    if (!arg) throw new UsageError('usage: basalt migrate create NAME');
    process.stdout.write(`created ${createMigrationFile(config.migrationsDir, arg)} in ${config.migrationsDir}\n`);
    return 0;
  }
  if (!['up', 'down', 'status'].includes(action ?? '')) throw new UsageError('usage: basalt migrate up|down [N]|status|create NAME');
  // Check the arguments before opening the database: a usage error must not touch anything.
  if ((action === 'up' || action === 'status') && arg) throw new UsageError(`migrate ${action} takes no argument`);
  const count = arg === undefined ? 1 : Number(arg);
  if (action === 'down' && (!Number.isInteger(count) || count < 1)) throw new UsageError('migrate down takes a positive count');
  return withApp(config, async (app) => {
    if (action === 'up') {
      const done = await migrateUp(app.db, app.registry, config.migrationsDir);
      process.stdout.write(done.length ? done.map((n) => `applied ${n}\n`).join('') : 'nothing to apply\n');
    } else if (action === 'down') {
      const done = await migrateDown(app.db, app.registry, config.migrationsDir, count);
      process.stdout.write(done.length ? done.map((x) => `reverted ${x}\n`).join('') : 'nothing to revert\n');
    } else {
      for (const s of await migrationStatus(app.db, config.migrationsDir)) process.stdout.write(`${s.applied ? `applied ${s.applied}` : 'pending'.padEnd(32)}  ${s.name}\n`);
    }
  });
}

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

/** Run the CLI with `argv` (without node and script); answers the exit code, or -1 to keep running. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        return print(HELP.main);
      case '--version':
      case '-v':
        return print(VERSION);
      case 'serve':
        return await serve(rest);
      case 'superuser':
        return await superuser(rest);
      case 'migrate':
        return await migrate(rest);
      case 'keys':
        return await keys(rest);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`basalt: ${e.message}\n${e instanceof UsageError ? 'Run "basalt --help" for usage.\n' : ''}`);
      return 2;
    }
    if (isBasaltError(e)) {
      const details = Object.entries(e.data).map(([k, v]) => `  ${k}: ${(v as { message?: string }).message ?? JSON.stringify(v)}`).join('\n');
      process.stderr.write(`basalt: ${e.message}${details ? `\n${details}` : ''}\n`);
      return 1;
    }
    process.stderr.write(`basalt: ${(e as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
}
