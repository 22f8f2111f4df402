/**
 * The REST surface: PocketBase-compatible routes for collections, records, batch and auth, plus
 * health, the change log, OpenAPI, docs and metrics. Routes are thin: they parse HTTP and call the
 * records service, which enforces every rule.
 */
import type { FastifyInstance } from 'fastify';
import { BasaltError } from '../../errors/index.ts';
import { errorHandler, sendProblem } from './problem.ts';
import { registerIdempotency } from './idempotency.ts';
import { registerBodyParsers } from './request-body.ts';
import { registerInvalidUrlRoute } from './request-url.ts';
import { baseHeaders, corsPolicy, labelRoutes } from './respond.ts';
import { RateLimiter } from './rate-limit.ts';
import { registerRecordRoutes } from './records-routes.ts';
import { registerCollectionRoutes } from './collections-routes.ts';
import { registerBatchRoutes } from './batch-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerAuthEmailRoutes } from './auth-email-routes.ts';
import { registerSystemRoutes } from './system-routes.ts';
import { registerApiKeyRoutes } from './api-keys-routes.ts';
import { registerMfaRoutes } from './mfa-routes.ts';
import { registerOAuthRoutes } from './oauth-routes.ts';
import { OAuthService } from '../../auth/oauth/index.ts';
import type { RestDeps } from './rest-deps.ts';

export type { RestDeps } from './rest-deps.ts';
export { createFastRead, VIEW_ROUTE, type FastRead } from './fast-read.ts';
export { requestIdSource, givenRequestId } from './request-ids.ts';
export { corsPolicy } from './respond.ts';
export { rewriteInvalidUrl } from './request-url.ts';
export { problemBody } from './problem.ts';
export { startMetricsListener, metricsAuthorized, type MetricsListener } from './metrics-access.ts';
export { serverTimeouts, type ServerTimeoutOptions } from './server-timeouts.ts';

/** Register every REST route and the cross-cutting hooks on a Fastify instance. */
export function registerRestApi(app: FastifyInstance, deps: RestDeps): void {
  deps.limiter ??= new RateLimiter(deps.db);
  deps.oauth ??= new OAuthService({ db: deps.db, records: deps.records, auth: deps.auth, secrets: deps.secrets, warn: (msg, err) => app.log.warn({ err }, msg) });
  app.setErrorHandler(errorHandler(deps.metrics));
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, new BasaltError('not_found', { message: `No route for ${request.method} ${request.url.split('?')[0].slice(0, 200)}.` }), deps.metrics, request);
  });
  app.decorate('basaltCors', corsPolicy(deps.corsOrigins));
  labelRoutes(app);
  // CORS preflight for every route: allowed origins learn the methods and headers Basalt takes.
  app.options('/*', (request, reply) => {
    baseHeaders(request, reply.code(204));
    if (reply.hasHeader('access-control-allow-origin')) {
      reply.headers({
        'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
        'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key, If-None-Match, X-Request-Id',
        'access-control-max-age': '86400',
      });
    }
    return reply.send();
  });
  registerBodyParsers(app, deps.bodyLimit);
  registerInvalidUrlRoute(app);
  registerIdempotency(app, deps.db, deps.auth, deps.registry, deps.metrics, deps.secrets);
  registerSystemRoutes(app, deps);
  registerCollectionRoutes(app, deps);
  registerRecordRoutes(app, deps);
  registerBatchRoutes(app, deps);
  registerAuthRoutes(app, deps);
  registerAuthEmailRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerMfaRoutes(app, deps);
  registerOAuthRoutes(app, deps);
}
