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
import { labelRoutes } from './respond.ts';
import { registerRecordRoutes } from './records-routes.ts';
import { registerCollectionRoutes } from './collections-routes.ts';
import { registerBatchRoutes } from './batch-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerSystemRoutes } from './system-routes.ts';
import type { RestDeps } from './rest-deps.ts';

export type { RestDeps } from './rest-deps.ts';
export { problemBody } from './problem.ts';

/** Register every REST route and the cross-cutting hooks on a Fastify instance. */
export function registerRestApi(app: FastifyInstance, deps: RestDeps): void {
  app.setErrorHandler(errorHandler(deps.metrics));
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply.header('x-request-id', request.id), new BasaltError('not_found', { message: `No route for ${request.method} ${request.url.split('?')[0].slice(0, 200)}.` }), deps.metrics, request);
  });
  labelRoutes(app);
  registerBodyParsers(app, deps.bodyLimit);
  registerIdempotency(app, deps.db, deps.auth, deps.metrics);
  registerSystemRoutes(app, deps);
  registerCollectionRoutes(app, deps);
  registerRecordRoutes(app, deps);
  registerBatchRoutes(app, deps);
  registerAuthRoutes(app, deps);
}
