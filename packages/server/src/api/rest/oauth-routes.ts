/**
 * OAuth2 routes (docs/oauth.md): `auth-with-oauth2` (PocketBase's API), the `oauth2` member of
 * `auth-methods`, and Basalt's list/unlink of the caller's own linked identities.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { clientInfo, principalOf, queryString, mfaIdOf } from './request-context.ts';
import { respond } from './respond.ts';
import { clientKey } from './rate-limit.ts';
import { RECENT_SIGN_IN_MS } from './mfa-routes.ts';
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import { actorOf } from '../../audit/index.ts';
import { authOptions, type Collection } from '../../schema/index.ts';
import { ANONYMOUS } from '../../records/index.ts';
import { OAuthRefusal, type AuthMethodsProvider } from '../../auth/oauth/index.ts';

/**
 * The `oauth2` member of `auth-methods`: each call starts a fresh single-use flow per provider, so it
 * is rate limited per client and never cached. `?redirectURL=` (Basalt) pins the flows to that
 * redirect URI.
 */
export async function oauthAuthMethods(request: FastifyRequest, reply: FastifyReply, deps: RestDeps, c: Collection): Promise<{ enabled: boolean; providers: AuthMethodsProvider[] }> {
  const o = authOptions(c).oauth2;
  if (!deps.oauth || !o.enabled || o.providers.length === 0) return { enabled: Boolean(deps.oauth) && o.enabled, providers: [] };
  // Generous (a login page calls it on every load) but bounded: each call writes one row per provider.
  await deps.limiter!.check(reply, [[{ name: 'oauth-flows-ip', limit: deps.rateLimits.signInPerIp * 4, windowSeconds: 60 }, clientKey(request)]]);
  reply.header('cache-control', 'no-store');
  return deps.oauth.authMethods(c, queryString(request, 'redirectURL'));
}

/** Register the OAuth2 routes. */
export function registerOAuthRoutes(app: FastifyInstance, deps: RestDeps): void {
  const limits = deps.rateLimits;
  const limiter = deps.limiter!;

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-with-oauth2', async (request, reply) => {
    await limiter.check(reply, [[{ name: 'oauth-ip', limit: limits.signInPerIp, windowSeconds: 60 }, clientKey(request)]]);
    const oauth = deps.oauth;
    if (!oauth) throw new BasaltError('oauth_disabled');
    // The SDK sends `mfaId` (the second factor of an MFA sign-in) as a query parameter.
    const body: Record<string, unknown> = { ...((request.body ?? {}) as Record<string, unknown>), mfaId: mfaIdOf(request) };
    const collection = request.params.collection;
    const provider = typeof body.provider === 'string' ? body.provider.slice(0, 40) : '';
    // A signed-in caller links the identity to itself. PocketBase's SDK sends whatever token its store
    // holds, possibly an expired one: that must not block signing in, so it counts as no caller (as in
    // PocketBase) — the sign-in then follows the rules for anonymous callers, which are the strict ones.
    const principal = await principalOf(request, deps.auth).catch((e: unknown) => {
      if (isBasaltError(e) && e.code === 'token_invalid') return ANONYMOUS;
      throw e;
    });
    try {
      const done = await oauth.signIn({
        collection, body, principal, client: clientInfo(request), recentSignInMs: RECENT_SIGN_IN_MS,
        beforeSignUp: async () => {
          await limiter.check(reply, [[{ name: 'signup-ip', limit: limits.signUpPerIp, windowSeconds: 3600 }, clientKey(request)]]);
        },
      });
      const c = done.collection.name;
      const actor = `${c}:${done.recordId}`;
      if (done.linked) {
        await deps.audit.record({ action: 'auth.oauth_link', outcome: 'success', actor: done.linked === 'explicit' ? actorOf(principal) : actor, target: `${c}/${done.recordId}`, ip: request.ip, details: { provider: done.provider, auto: done.linked === 'auto' } });
        // The owner hears of every new way into the account (fire and forget; needs SMTP).
        deps.authEmail?.noticeIdentityLinked(done.collection, done.recordId, done.provider, clientInfo(request));
      }
      await deps.audit.record({ action: 'auth.signin', outcome: 'success', actor, target: `${c}/${done.recordId}`, ip: request.ip, details: { method: 'oauth2', provider: done.provider, isNew: done.isNew } });
      return respond(request, reply, deps.metrics, done.result);
    } catch (e) {
      if (e instanceof OAuthRefusal) {
        const action = e.error.code === 'oauth_link_refused' || e.error.code === 'oauth_identity_taken' || e.error.code === 'reauthentication_required' ? 'auth.oauth_link' : 'auth.signin';
        await deps.audit.record({ action, outcome: 'failure', actor: actorOf(principal), target: e.target, ip: request.ip, details: { method: 'oauth2', provider: e.provider, reason: e.error.code, ...(typeof e.error.data.reason === 'string' ? { why: e.error.data.reason } : {}) } });
        throw e.error;
      }
      // The MFA answer (401 with mfaId) is not a failure; every other refusal is audited by its code.
      if (isBasaltError(e) && e.code !== 'mfa_required' && e.code !== 'rate_limited') {
        await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: actorOf(principal), target: `${collection}:${provider}`, ip: request.ip, details: { method: 'oauth2', provider, reason: e.code } });
      }
      throw e;
    }
  });

  // Basalt: the caller's own linked identities (no tokens), and unlinking one.
  app.get<{ Params: { collection: string } }>('/api/collections/:collection/oauth2-identities', async (request, reply) => {
    const c = deps.auth.authCollection(request.params.collection);
    if (!deps.oauth) return respond(request, reply, deps.metrics, { items: [] });
    return respond(request, reply, deps.metrics, { items: await deps.oauth.listIdentities(c, await principalOf(request, deps.auth)) });
  });

  app.delete<{ Params: { collection: string; id: string } }>('/api/collections/:collection/oauth2-identities/:id', async (request, reply) => {
    const c = deps.auth.authCollection(request.params.collection);
    const principal = await principalOf(request, deps.auth);
    if (!deps.oauth) throw new BasaltError('not_found');
    await deps.oauth.unlinkIdentity(c, principal, request.params.id);
    await deps.audit.record({ action: 'auth.oauth_unlink', outcome: 'success', actor: actorOf(principal), target: `${c.name}/${request.params.id}`, ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });
}
