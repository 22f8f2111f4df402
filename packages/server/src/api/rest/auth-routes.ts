/**
 * Auth-collection routes: password sign-in, token refresh (rotating refresh tokens, or PocketBase's
 * access-token renewal) and logout.
 */
import type { FastifyInstance } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { clientInfo, principalOf, mfaIdOf } from './request-context.ts';
import { respond } from './respond.ts';
import { clientKey } from './rate-limit.ts';
import { countPasswordAttempt } from './password-attempts.ts';
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import type { Principal } from '../../records/index.ts';
import { actorOf } from '../../audit/index.ts';
import { authOptions } from '../../schema/index.ts';
import { mfaAuthMethods } from './mfa-routes.ts';
import { oauthAuthMethods } from './oauth-routes.ts';

/** Register the auth routes. */
export function registerAuthRoutes(app: FastifyInstance, deps: RestDeps): void {
  const limits = deps.rateLimits;
  const limiter = deps.limiter!;
  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-with-password', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const identity = typeof body.identity === 'string' ? body.identity.toLowerCase().slice(0, 254) : '';
    // Keyed on the collection's name however the URL names it, and shared with every other password
    // check of the account (password-attempts.ts): 429 per source and per (identity, source) only.
    const attempt = await countPasswordAttempt(limiter, limits, reply, request, deps.auth.authCollection(request.params.collection).name, [identity]);
    try {
      const result = await deps.auth.authWithPassword(request.params.collection, body.identity, body.password, clientInfo(request), { mfaId: mfaIdOf(request), identityField: body.identityField });
      const id = String((result.record as { id?: unknown }).id ?? '');
      await deps.audit.record({ action: 'auth.signin', outcome: 'success', actor: `${request.params.collection}:${id}`, target: `${request.params.collection}/${id}`, ip: request.ip });
      return respond(request, reply, deps.metrics, result);
    } catch (e) {
      if (isBasaltError(e) && e.code === 'auth_failed') {
        await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: 'anonymous', target: `${request.params.collection}:${identity}`, ip: request.ip });
        // Each further failure on one identity inside the window waits longer (no lockout: the window ends).
        await attempt.failed();
      }
      throw e;
    }
  });

  // What a sign-in form may offer (PocketBase's shape): password sign-in as the collection allows it.
  app.get<{ Params: { collection: string } }>('/api/collections/:collection/auth-methods', async (request, reply) => {
    const c = deps.registry.get(request.params.collection);
    if (c.type !== 'auth') throw new BasaltError('not_found', { message: 'The collection is not an auth collection.' });
    const pa = authOptions(c).passwordAuth;
    return respond(request, reply, deps.metrics, {
      password: { enabled: pa.enabled && c.authRule !== null, identityFields: pa.identityFields },
      oauth2: await oauthAuthMethods(request, reply, deps, c),
      ...mfaAuthMethods(c), // mfa {enabled, duration}; Basalt's totp and passkeys {enabled}
      otp: { enabled: authOptions(c).otp.enabled, duration: authOptions(c).otp.duration },
    });
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-refresh', async (request, reply) => {
    await limiter.check(reply, [[{ name: 'refresh-ip', limit: limits.refreshPerIp, windowSeconds: 60 }, clientKey(request)]]);
    const body = (request.body ?? {}) as Record<string, unknown>;
    // A refresh token in the body needs no Authorization; an invalid access token must not block it.
    const principal = body.refreshToken !== undefined ? { kind: 'anonymous' as const } : await principalOf(request, deps.auth);
    return respond(request, reply, deps.metrics, await deps.auth.authRefresh(request.params.collection, body.refreshToken, principal));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-logout', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const principal = await principalOf(request, deps.auth);
    await deps.auth.logout(principal, body.refreshToken, body.all === true);
    await deps.audit.record({ action: body.all === true ? 'auth.logout_all' : 'auth.logout', outcome: 'success', actor: actorOf(principal), target: actorOf(principal), ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });

  // The caller's own sessions: list, end one, or end all others ("sign out other devices").
  app.get<{ Params: { collection: string } }>('/api/collections/:collection/auth-sessions', async (request, reply) => {
    const principal = await ownPrincipal(request.params.collection, await principalOf(request, deps.auth));
    return respond(request, reply, deps.metrics, { items: await deps.auth.sessions(principal) });
  });

  app.delete<{ Params: { collection: string; id: string } }>('/api/collections/:collection/auth-sessions/:id', async (request, reply) => {
    const principal = await ownPrincipal(request.params.collection, await principalOf(request, deps.auth));
    if (request.params.id === 'others') await deps.auth.revokeSessions(principal, { others: true });
    else await deps.auth.revokeSessions(principal, { id: request.params.id });
    await deps.audit.record({ action: 'auth.session_revoke', outcome: 'success', actor: actorOf(principal), target: request.params.id, ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });

  /** The caller must be signed in to this auth collection. */
  async function ownPrincipal(collection: string, principal: Principal): Promise<Principal> {
    if (principal.kind === 'anonymous') throw new BasaltError('unauthorized');
    const own = principal.kind === 'superuser' ? deps.registry.get(collection).name === '_superusers' : principal.kind === 'record' && principal.collection === deps.registry.get(collection).name;
    if (!own) throw new BasaltError('forbidden', { message: 'Sign in to this collection to manage its sessions.' });
    return principal;
  }
}
