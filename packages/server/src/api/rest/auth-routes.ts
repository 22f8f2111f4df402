/**
 * Auth-collection routes. This issue ships `auth-with-password`; the identity issue adds the rest.
 */
import type { FastifyInstance } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { respond } from './respond.ts';

/** Register the auth routes. */
export function registerAuthRoutes(app: FastifyInstance, deps: RestDeps): void {
  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-with-password', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    return respond(request, reply, deps.metrics, await deps.auth.authWithPassword(request.params.collection, body.identity, body.password));
  });
}
