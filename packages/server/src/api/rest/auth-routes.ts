/**
 * Auth-collection routes: password sign-in, token refresh (rotating refresh tokens, or PocketBase's
 * access-token renewal) and logout.
 */
import type { FastifyInstance } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { principalOf } from './request-context.ts';
import { respond } from './respond.ts';

/** Register the auth routes. */
export function registerAuthRoutes(app: FastifyInstance, deps: RestDeps): void {
  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-with-password', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    return respond(request, reply, deps.metrics, await deps.auth.authWithPassword(request.params.collection, body.identity, body.password));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-refresh', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    // A refresh token in the body needs no Authorization; an invalid access token must not block it.
    const principal = body.refreshToken !== undefined ? { kind: 'anonymous' as const } : await principalOf(request, deps.auth);
    return respond(request, reply, deps.metrics, await deps.auth.authRefresh(request.params.collection, body.refreshToken, principal));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-logout', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    await deps.auth.logout(await principalOf(request, deps.auth), body.refreshToken, body.all === true);
    return respond(request, reply, deps.metrics, null, 204);
  });
}
