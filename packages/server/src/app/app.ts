/**
 * The kernel: builds a Basalt instance from a configuration — database, schema registry, records
 * service, auth, telemetry and the HTTP surface — and tears it down in the right order.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { openDatabase, type Database } from '../db/index.ts';
import { CollectionRegistry, ensureAuthEmailIndexes, migrateUp, writeChangeMigration } from '../schema/index.ts';
import { RecordsService, ensureAuthRecordIds, releaseCollectionAuthIds } from '../records/index.ts';
import { ApiKeys, AuthService, RefreshTokens, RoleDirectory, TokenService, loadRefreshSecret, loadTokenKeys } from '../auth/index.ts';
import { createLogger, createMetrics, instrumentDatabase, prettyLogs, type Metrics } from '../telemetry/index.ts';
import { registerRestApi, createFastRead, corsPolicy, requestIdSource, givenRequestId, rewriteInvalidUrl, serverTimeouts, startMetricsListener, type FastRead, type MetricsListener } from '../api/rest/index.ts';
import { AuditLog, actorOf } from '../audit/index.ts';
import { loadSecretBox, type SecretBox } from '../secrets/index.ts';
import { AuthEmailFlows } from '../auth/index.ts';
import { sealClientSecrets } from '../auth/oauth/index.ts';
import { createMailer } from '../mail/index.ts';
import { sqlitePath, type BasaltConfig } from './config.ts';
import { startHousekeeping } from './housekeeping.ts';

/** Basalt's version (OpenAPI `info.version`, boot banner). */
export const VERSION = '0.1.0';

/** A running (or ready-to-listen) Basalt instance. */
export interface BasaltApp {
  config: BasaltConfig;
  http: FastifyInstance;
  db: Database;
  registry: CollectionRegistry;
  records: RecordsService;
  auth: AuthService;
  /** The audit trail. */
  audit: AuditLog;
  /** Access-token signing and verification (key rotation reloads it). */
  tokens: TokenService;
  /** Encryption at rest (secret fields, TOTP secrets, OAuth tokens). */
  secrets: SecretBox;
  /** Auth email flows (verification, reset, email change, OTP, new-device notices); `drain()` awaits background sends. */
  authEmail: AuthEmailFlows;
  metrics: Metrics;
  logger: Logger;
  /** How many requests the fast read path answered (0 when it is off). */
  fastReadsServed(): number;
  /** Run the periodic clean-up now (audit retention, expired refresh tokens); it also runs hourly. */
  runHousekeeping(): Promise<void>;
  /** Start listening on `config.http` (and the metrics listener on `config.metrics.http`); answers the bound address. */
  listen(): Promise<string>;
  /** `http://host:port` of the separate metrics listener once listening; undefined when there is none. */
  metricsUrl(): string | undefined;
  /** Stop accepting connections, finish in-flight requests, close the database. */
  close(): Promise<void>;
}

/** Options for tests and embedding. */
export interface CreateAppOptions {
  /** Use this logger (tests pass a silent one). */
  logger?: Logger;
  /** Apply pending migrations from `config.migrationsDir` at start (serve does). */
  runMigrations?: boolean;
}

/** Build a Basalt instance. */
export async function createApp(config: BasaltConfig, opts: CreateAppOptions = {}): Promise<BasaltApp> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel, pretty: prettyLogs(config.logFormat, process.stdout.isTTY === true) });
  const secrets = loadSecretBox(config);
  const metrics = createMetrics();
  const rawDb = await openDatabase({ url: config.databaseUrl || undefined, sqlitePath: sqlitePath(config), schema: config.databaseSchema, queryTimeoutMs: config.queryTimeoutMs });
  const db = instrumentDatabase(rawDb, metrics);
  try {
    let records: RecordsService | undefined;
    const registry = new CollectionRegistry(db, {
      validate: (c, all) => records?.validateRules(c, all),
      // OAuth client secrets leave the definition for a sealed table (auth/oauth/oauth-client-secrets.ts).
      // A dropped auth collection releases its record ids (records/auth-record-ids.ts).
      beforeStore: async (id, after, tx) => {
        if (after === null) await releaseCollectionAuthIds(tx, id);
        return sealClientSecrets(tx, secrets, id, after);
      },
      changed: async (change) => {
        if (!config.automigrate) return;
        const file = await writeChangeMigration(db, config.migrationsDir, change);
        logger.info({ file }, 'automigrate: wrote migration');
      },
    });
    records = new RecordsService(db, registry, secrets);
    await registry.load();
    if (opts.runMigrations) {
      const applied = await migrateUp(db, registry, config.migrationsDir);
      if (applied.length) logger.info({ applied }, 'applied migrations');
    }
    // Upgrade steps of the identity layer; each refuses to start on data that breaks its invariant.
    await ensureAuthRecordIds(db, registry);
    await ensureAuthEmailIndexes(db, registry);
    const tokens = new TokenService(db, await loadTokenKeys(db, config.tokenTtlSeconds), config.publicUrl, config.tokenTtlSeconds);
    const audit = new AuditLog(db);
    // Superuser writes and password changes are audited inside the write's transaction.
    records.hooks.on('*', '*', async (e, next) => {
      await next();
      const id = String(e.record.id ?? e.original?.id ?? '');
      if (e.principal.kind === 'superuser') {
        await audit.record({ action: `record.${e.op}`, outcome: 'success', actor: actorOf(e.principal), target: `${e.collection.name}/${id}` }, e.tx);
      }
      if (e.op === 'update' && e.collection.type === 'auth' && 'password' in e.record) {
        await audit.record({ action: 'auth.password_change', outcome: 'success', actor: actorOf(e.principal), target: `${e.collection.name}/${id}` }, e.tx);
      }
    }, { id: 'audit', priority: 1000 });
    const refresh = new RefreshTokens(db, await loadRefreshSecret(db), {
      ttlSeconds: config.refreshTtlSeconds,
      onFamilyRevoked: (r) => audit.record({ action: 'auth.refresh_reuse', outcome: 'failure', actor: `${registry.find(r.collectionId)?.name ?? r.collectionId}:${r.recordId}`, target: `family:${r.family}`, details: { reason: r.reason } }),
    });
    const roles = new RoleDirectory(records);
    const apiKeys = new ApiKeys(db, roles, (key) => audit.record({ action: 'apikey.use', outcome: 'success', actor: `apikey:${key.id}`, target: `apikey:${key.id}`, details: { name: key.name } }));
    const auth = new AuthService(records, tokens, refresh, roles, apiKeys);
    // Email verification, password reset, email change, OTP and new-device notices (docs/auth-email.md).
    const mailer = createMailer(config.smtp);
    const authEmail = new AuthEmailFlows({ db, records, auth, audit, mailer, logger }, { appName: config.appName, appUrl: config.publicUrl });

    const requestId = requestIdSource();
    const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
    // The fast read path (api/rest/fast-read.ts) sees each request before Fastify; not when every
    // request is logged (debug/trace), where Fastify's request log is wanted.
    let fastRead: FastRead | undefined;
    let closing = false;
    const listener = (handler: (req: IncomingMessage, res: ServerResponse) => void) => (req: IncomingMessage, res: ServerResponse) => {
      if (!fastRead || !fastRead(req, res, handler)) handler(req, res);
    };
    // HTTPS when a certificate is configured (HSTS is then sent on every answer).
    const tls = config.tlsCert ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
    // Fastify applies its timeouts only to servers it creates; this one is ours. Slow clients are cut
    // off (docs/operations.md): headers within timeouts.headersMs (slowloris; on HTTPS the TLS handshake
    // too), the whole request within timeouts.requestMs, idle keep-alive after timeouts.keepAliveMs
    // (longer than the usual load-balancer idle timeout of 60 s).
    const timeouts = serverTimeouts(config.timeouts);
    const http = Fastify({
      serverFactory: (handler) => {
        const server = tls
          ? createHttpsServer({ ...tls, ...timeouts, handshakeTimeout: config.timeouts.headersMs }, listener(handler))
          : createHttpServer(timeouts, listener(handler));
        // Not every Node version takes keepAliveTimeout as a constructor option.
        server.keepAliveTimeout = timeouts.keepAliveTimeout;
        return server;
      },
      // Fastify names the protocol of its listen address from this option (the server is ours).
      ...(tls ? { https: tls } : {}),
      loggerInstance: logger as FastifyBaseLogger,
      bodyLimit: config.bodyLimit,
      // From rawHeaders: touching req.headers makes Node build the whole header object.
      genReqId: (req) => requestId(givenRequestId(req.rawHeaders)),
      // Per-request lines only at debug/trace: at info a busy server would log every request.
      logController: new LogController({ disableRequestLogging: !verbose }),
      // A pino child per request costs a redaction pass over its bindings; unless request logging is on
      // (debug/trace), requests share the root logger and our own log calls add `reqId` themselves.
      childLoggerFactory: (parent, bindings, options) => (verbose ? parent.child(bindings, options) : parent),
      return503OnClosing: true,
      // Behind configured reverse proxies, the client address comes from X-Forwarded-For.
      trustProxy: config.trustedProxies.length ? config.trustedProxies : false,
      routerOptions: { maxParamLength: 256 },
      // A NUL (%00) anywhere in the URL is a 400 before routing (api/rest/request-url.ts).
      rewriteUrl: rewriteInvalidUrl,
    }) as unknown as FastifyInstance;
    http.decorate('basaltHsts', Boolean(config.tlsCert));
    // Metrics on the public port only behind their token, and not at all when they have a listener of their own.
    const metricsToken = config.metrics.token && !config.metrics.http ? config.metrics.token : undefined;
    const restDeps = { db, registry, records, auth, audit, tokens, secrets, metrics, version: VERSION, publicUrl: config.publicUrl, bodyLimit: config.bodyLimit, corsOrigins: config.corsOrigins, rateLimits: config.rateLimits, maxBatchRequests: 1000, authEmail, metricsToken };
    registerRestApi(http, restDeps);
    await http.ready();
    if (config.fastReads && !verbose) {
      fastRead = createFastRead(restDeps, { requestId, cors: corsPolicy(config.corsOrigins), hsts: Boolean(tls), closing: () => closing });
    }
    const housekeeping = startHousekeeping(logger, [
      ['audit retention', () => audit.prune(config.auditRetentionDays)],
      ['expired refresh tokens', () => refresh.prune()],
    ]);

    let metricsListener: MetricsListener | undefined;
    let closed = false;
    return {
      config, http, db, registry, records, auth, audit, tokens, secrets, authEmail, metrics, logger,
      runHousekeeping: () => housekeeping.runNow(),
      fastReadsServed: () => fastRead?.served ?? 0,
      async listen() {
        const address = await http.listen({ host: config.http.host, port: config.http.port });
        const metricsHttp = config.metrics.http;
        if (metricsHttp) metricsListener = await startMetricsListener(metrics, { ...config.metrics, http: metricsHttp }, config.timeouts);
        return address;
      },
      metricsUrl: () => metricsListener?.url,
      async close() {
        if (closed) return;
        closed = true;
        closing = true;
        await housekeeping.stop();
        await metricsListener?.close();
        // Fastify closes the connections that are idle when close() starts; a keep-alive connection
        // whose request is still in flight becomes idle later and would linger until its keep-alive
        // timeout. Keep closing idle connections until the server is down.
        const sweep = setInterval(() => http.server.closeIdleConnections(), 50);
        try {
          await http.close();
        } finally {
          clearInterval(sweep);
        }
        // Mails still being sent after their answer (request-*, new-device notices) finish first.
        await authEmail.drain();
        mailer.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}
