/**
 * One budget for every password check of an account: `auth-with-password`, `confirm-email-change`
 * and a record PATCH with `oldPassword` (a token holder's password oracle otherwise).
 *
 * - `signin-ip`: attempts per source (client address, IPv6 by /64) per minute — 429 past it.
 * - `signin-identity-ip`: attempts per (identity, source) per 15 minutes — 429 past it. Ten wrong
 *   passwords lock that source out of that account, not the owner: from another address they still
 *   get in (the review's lock-out finding: a per-identity 429 let anyone lock an owner out).
 * - `signin-identity`: attempts per identity from any source per 15 minutes — never a 429 (and not in
 *   the headers), only a progressive delay after each wrong password (`failureDelayMs` doubling, at
 *   most 2 s), so guessing one account from many addresses stays slow.
 *
 * The quotas use the existing `signInPerIp` and `signInPerIdentity` settings. A wrong `oldPassword`
 * waits the same delay as a wrong sign-in (after the same argon2id check).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitConfig } from '../../app/config.ts';
import { isBasaltError } from '../../errors/index.ts';
import type { Principal } from '../../records/index.ts';
import { authOptions } from '../../schema/index.ts';
import { clientKey, failureDelay, signInIdentityKey, signInIdentityQuota, type Hit, type Quota, type RateLimiter } from './rate-limit.ts';
import type { RestDeps } from './rest-deps.ts';

/** The `(identity, source)` quota: `signInPerIdentity` attempts per 15 minutes. */
export function signInPairQuota(limit: number): Quota {
  return { name: 'signin-identity-ip', limit, windowSeconds: 900 };
}

/** A counted password attempt: call `failed()` after a wrong password. */
export interface PasswordAttempt {
  /** Every hit counted for the answer's headers (with `previous`). */
  hits: Hit[];
  /** The progressive delay of a wrong password, by the identity's attempts from every source. */
  failed(): Promise<void>;
}

/**
 * Count one password attempt on an account of `collectionName`, known by `identities` (what a
 * sign-in may type: the email, a username…; each spends its own budget, so a guess here counts
 * wherever a sign-in could spend it). Throws `rate_limited` (429) past the per-source quotas.
 * `previous`: hits this request already counted (their headers are kept).
 */
export async function countPasswordAttempt(limiter: RateLimiter, limits: RateLimitConfig, reply: FastifyReply, request: Pick<FastifyRequest, 'ip'>, collectionName: string, identities: readonly string[], previous: readonly Hit[] = []): Promise<PasswordAttempt> {
  const source = clientKey(request);
  const keys = [...new Set(identities.filter((i) => i !== '').map((i) => signInIdentityKey(collectionName, i)))];
  const hits = await limiter.check(reply, [
    [{ name: 'signin-ip', limit: limits.signInPerIp, windowSeconds: 60 }, source],
    ...keys.map((k): [Quota, string] => [signInPairQuota(limits.signInPerIdentity), `${k}\u0000${source}`]),
  ], previous);
  let recent = 0;
  for (const k of keys) recent = Math.max(recent, (await limiter.count(signInIdentityQuota(limits.signInPerIdentity), k))?.count ?? 0);
  for (const h of hits) if (h.quota.name === 'signin-identity-ip') recent = Math.max(recent, h.count);
  return { hits, failed: () => failureDelay(limits.failureDelayMs, recent) };
}

/**
 * A record PATCH (or batch PATCH/PUT) that sends `oldPassword` to an auth record checks that password:
 * count it as a password attempt on that account (every identity a sign-in could type), unless the
 * caller is a superuser (who never needs it). Undefined when it is not such a write. A record that
 * does not exist is counted under its id, so the headers do not tell which ids exist.
 */
export async function countOldPasswordAttempt(deps: Pick<RestDeps, 'records' | 'registry' | 'limiter' | 'rateLimits'>, reply: FastifyReply, request: Pick<FastifyRequest, 'ip'>, principal: Principal, collection: string, id: string, body: unknown, previous: readonly Hit[] = []): Promise<PasswordAttempt | undefined> {
  if (principal.kind === 'superuser' || !body || typeof body !== 'object' || !Object.hasOwn(body, 'oldPassword')) return undefined;
  const c = deps.registry.find(collection);
  if (!c || c.type !== 'auth') return undefined;
  const row = await deps.records.findRawBy(c.name, 'id', id);
  const identities = row ? authOptions(c).passwordAuth.identityFields.map((f) => (typeof row[f] === 'string' ? row[f] : '')) : [`#${id.slice(0, 64)}`];
  return countPasswordAttempt(deps.limiter!, deps.rateLimits, reply, request, c.name, identities, previous);
}

/** True when a write failed on a wrong `oldPassword` (directly, or as the failing request of a batch). */
export function isWrongOldPassword(e: unknown): boolean {
  if (!isBasaltError(e)) return false;
  const cause = e.code === 'batch_failed' && isBasaltError(e.cause) ? e.cause : e;
  return (cause.data as Record<string, { code?: unknown } | undefined>).oldPassword?.code === 'validation_invalid_old_password';
}
