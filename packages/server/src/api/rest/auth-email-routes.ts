/**
 * The email routes of auth collections (PocketBase's paths and bodies): `request-verification`,
 * `confirm-verification`, `request-password-reset`, `confirm-password-reset`, `request-email-change`,
 * `confirm-email-change`, `request-otp` and `auth-with-otp`. Each is rate-limited per IP and per
 * identity (address, OTP id or token, keyed on the collection's id so its name and id share them) with
 * the IETF RateLimit headers; failed confirmations and OTP tries are slowed progressively. The
 * per-address mail quota of the `request-*` calls never answers 429: past it, the answer is the usual
 * one and no mail is sent, so nobody can lock an address out of its own mail (or learn about it).
 * See docs/auth-email.md.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { clientInfo, principalOf, mfaIdOf } from './request-context.ts';
import { respond } from './respond.ts';
import { clientKey, failureDelay, type Hit } from './rate-limit.ts';
import { countPasswordAttempt, type PasswordAttempt } from './password-attempts.ts';
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import type { AuthEmailFlows, PasswordAttemptGuard } from '../../auth/index.ts';

type Req = FastifyRequest<{ Params: { collection: string } }>;

/** Register the email routes of auth collections. */
export function registerAuthEmailRoutes(app: FastifyInstance, deps: RestDeps): void {
  const limits = deps.rateLimits;
  const limiter = deps.limiter!;
  const flows = (): AuthEmailFlows => {
    if (!deps.authEmail) throw new BasaltError('mail_unavailable');
    return deps.authEmail;
  };
  const bodyOf = (request: Req): Record<string, unknown> => {
    const b = request.body;
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
  };
  /**
   * An identity-quota key: the collection's id (a URL may name the collection by name or by id; both
   * must spend one quota) and the lower-cased identity. An unknown collection is a 404 here.
   */
  const identityKey = (request: Req, v: unknown): string => {
    const c = deps.auth.authCollection(request.params.collection);
    return `${c.id}\u0000${typeof v === 'string' ? v.toLowerCase().slice(0, 254) : ''}`;
  };

  /**
   * Requests that send mail, hourly: per IP (429 past it) and per address, which is counted but never
   * answered — past it the caller gets the usual answer and no mail goes out. Answers whether to send.
   */
  const mailQuota = async (request: Req, reply: FastifyReply, address: unknown): Promise<boolean> => {
    const key = identityKey(request, address);
    await limiter.check(reply, [[{ name: 'email-request-ip', limit: limits.emailRequestPerIp, windowSeconds: 3600 }, clientKey(request)]]);
    const hit = await limiter.count({ name: 'email-request-identity', limit: limits.emailRequestPerIdentity, windowSeconds: 3600 }, key);
    return hit === undefined || hit.count <= hit.quota.limit;
  };

  /** Confirmations: per IP and per token, every 15 minutes; failures wait longer each time. */
  const confirm = async (request: Req, reply: FastifyReply, work: (hits: Hit[]) => Promise<void>): Promise<unknown> => {
    const body = bodyOf(request);
    const key = identityKey(request, body.token);
    const hits = await limiter.check(reply, [
      [{ name: 'email-confirm-ip', limit: limits.emailConfirmPerIp, windowSeconds: 900 }, clientKey(request)],
      [{ name: 'email-confirm-identity', limit: limits.emailConfirmPerIdentity, windowSeconds: 900 }, key],
    ]);
    try {
      await work(hits);
    } catch (e) {
      // A wrong password already waited its sign-in failure delay (confirm-email-change).
      if (!(isBasaltError(e) && e.code === 'rate_limited') && !hits.some((h) => h.quota.name === 'signin-identity-ip')) await slowDown(e, hits, 'email-confirm-identity');
      throw e;
    }
    return respond(request, reply, deps.metrics, null, 204);
  };

  const slowDown = async (e: unknown, hits: Hit[], quota: string): Promise<void> => {
    if (!isBasaltError(e) || e.status >= 500) return;
    await failureDelay(limits.failureDelayMs, hits.find((h) => h.quota.name === quota)?.count ?? 0);
  };

  /**
   * The password check of confirm-email-change spends the account's sign-in budget, the one
   * auth-with-password spends (password-attempts.ts: same quotas, same keys), and waits the same
   * progressive delay after a wrong password: guesses here and at sign-in share one budget.
   */
  const passwordGuard = (request: Req, reply: FastifyReply, hits: Hit[]): PasswordAttemptGuard => {
    let attempt: PasswordAttempt | undefined;
    return {
      async before(c, email) {
        attempt = await countPasswordAttempt(limiter, limits, reply, request, c.name, [email], hits);
        hits.push(...attempt.hits.slice(hits.length));
      },
      async failed() {
        const perToken = hits.find((h) => h.quota.name === 'email-confirm-identity')?.count ?? 0;
        await Promise.all([attempt?.failed(), failureDelay(limits.failureDelayMs, perToken)]);
      },
    };
  };

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/request-verification', async (request, reply) => {
    const body = bodyOf(request);
    const send = await mailQuota(request, reply, body.email);
    flows().requestVerification(request.params.collection, body.email, request.ip, send);
    return respond(request, reply, deps.metrics, null, 204);
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/confirm-verification', async (request, reply) => {
    const body = bodyOf(request);
    return confirm(request, reply, () => flows().confirmVerification(request.params.collection, body.token, request.ip));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/request-password-reset', async (request, reply) => {
    const body = bodyOf(request);
    const send = await mailQuota(request, reply, body.email);
    flows().requestPasswordReset(request.params.collection, body.email, request.ip, send);
    return respond(request, reply, deps.metrics, null, 204);
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/confirm-password-reset', async (request, reply) => {
    const body = bodyOf(request);
    return confirm(request, reply, () => flows().confirmPasswordReset(request.params.collection, body.token, body.password, body.passwordConfirm, request.ip));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/request-email-change', async (request, reply) => {
    const body = bodyOf(request);
    const principal = await principalOf(request, deps.auth);
    if (principal.kind === 'anonymous') throw new BasaltError('unauthorized');
    const send = await mailQuota(request, reply, body.newEmail);
    await flows().requestEmailChange(request.params.collection, principal, body.newEmail, request.ip, send);
    return respond(request, reply, deps.metrics, null, 204);
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/confirm-email-change', async (request, reply) => {
    const body = bodyOf(request);
    return confirm(request, reply, (hits) => flows().confirmEmailChange(request.params.collection, body.token, body.password, request.ip, passwordGuard(request, reply, hits)));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/request-otp', async (request, reply) => {
    const body = bodyOf(request);
    const send = await mailQuota(request, reply, body.email);
    return respond(request, reply, deps.metrics, flows().requestOtp(request.params.collection, body.email, request.ip, send));
  });

  app.post<{ Params: { collection: string } }>('/api/collections/:collection/auth-with-otp', async (request, reply) => {
    const body = bodyOf(request);
    const key = identityKey(request, body.otpId);
    const hits = await limiter.check(reply, [
      [{ name: 'otp-signin-ip', limit: limits.otpSignInPerIp, windowSeconds: 60 }, clientKey(request)],
      [{ name: 'otp-signin-identity', limit: limits.otpSignInPerIdentity, windowSeconds: 900 }, key],
    ]);
    const collection = request.params.collection;
    let checked: Awaited<ReturnType<AuthEmailFlows['checkOtp']>>;
    try {
      checked = await flows().checkOtp(collection, body.otpId, body.password);
    } catch (e) {
      if (isBasaltError(e) && e.code === 'otp_invalid') {
        await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: 'anonymous', target: collection, ip: request.ip, details: { method: 'otp' } });
      }
      await slowDown(e, hits, 'otp-signin-identity');
      throw e;
    }
    const target = `${checked.collection.name}/${String(checked.row.id)}`;
    try {
      const result = await deps.auth.signIn(checked.collection, checked.row, ['otp'], clientInfo(request), { mfaId: mfaIdOf(request) });
      await deps.audit.record({ action: 'auth.signin', outcome: 'success', actor: `${checked.collection.name}:${String(checked.row.id)}`, target, ip: request.ip, details: { method: 'otp' } });
      return respond(request, reply, deps.metrics, result);
    } catch (e) {
      // The code was right but the sign-in did not complete (auth rule, a second factor needed…).
      await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: 'anonymous', target, ip: request.ip, details: { method: 'otp', reason: isBasaltError(e) ? e.code : 'internal' } });
      throw e;
    }
  });
}
