/**
 * Abuse limits for the endpoints attackers hammer (sign-in, sign-up, refresh): fixed windows counted in
 * the database, so every node of a cluster shares them, with IETF `RateLimit-Policy` / `RateLimit`
 * headers (draft-ietf-httpapi-ratelimit-headers-10) and `429` + `Retry-After` past the quota. Windows
 * simply expire: there is no permanent lockout. Failed sign-ins are also slowed progressively.
 *
 * Applied by the routes that need it, not as a global hook (docs/decisions/003).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BasaltError } from '../../errors/index.ts';
import type { Database } from '../../db/index.ts';

/** One quota: `limit` requests per `windowSeconds`, for keys of one kind. */
export interface Quota {
  /** Policy name in the headers, e.g. `signin-ip`. */
  name: string;
  limit: number;
  windowSeconds: number;
}

/** Result of counting one request against a quota. */
export interface Hit {
  quota: Quota;
  /** Requests counted in this window, this one included. */
  count: number;
  remaining: number;
  resetSeconds: number;
}

/** Counts requests per key and window in `_rate_limits`. */
export class RateLimiter {
  readonly #db: Database;
  #lastSweep = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Count one request for `key` under `quota`. */
  async #hit(quota: Quota, key: string): Promise<Hit> {
    const now = Date.now();
    const win = Math.floor(now / (quota.windowSeconds * 1000));
    // Keys hold identities and addresses: store a hash, not the value.
    const k = `${quota.name}:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
    const row = await this.#db.get<{ hits: number }>(
      `INSERT INTO _rate_limits (key, win, hits) VALUES (?, ?, 1)
       ON CONFLICT (key) DO UPDATE SET hits = CASE WHEN _rate_limits.win = excluded.win THEN _rate_limits.hits + 1 ELSE 1 END, win = excluded.win
       RETURNING hits`,
      [k, win],
    );
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      // Windows of the longest policy (1 hour) are long over after a day.
      await this.#db.run('DELETE FROM _rate_limits WHERE win < ?', [Math.floor(now / 3_600_000) - 24]);
    }
    const hits = Number(row?.hits ?? 1);
    const resetSeconds = Math.max(1, Math.ceil(((win + 1) * quota.windowSeconds * 1000 - now) / 1000));
    return { quota, count: hits, remaining: Math.max(0, quota.limit - hits), resetSeconds };
  }

  /**
   * Count the request against every quota; set the headers for the tightest one; throw `rate_limited`
   * (429, `Retry-After`) when any is exhausted. A quota with limit 0 is off. `previous`: hits this
   * request already counted (a quota whose key is known only later, e.g. after a token lookup); the
   * headers then cover them all.
   */
  async check(reply: FastifyReply, checks: Array<[Quota, string]>, previous: readonly Hit[] = []): Promise<Hit[]> {
    const hits: Hit[] = [...previous];
    for (const [quota, key] of checks) if (quota.limit > 0) hits.push(await this.#hit(quota, key));
    if (hits.length === 0) return hits;
    const over = hits.find((h) => h.count > h.quota.limit);
    const tightest = over ?? hits.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    reply.header('ratelimit-policy', hits.map((h) => `"${h.quota.name}";q=${h.quota.limit};w=${h.quota.windowSeconds}`).join(', '));
    reply.header('ratelimit', `"${tightest.quota.name}";r=${tightest.remaining};t=${tightest.resetSeconds}`);
    if (over) {
      reply.header('retry-after', String(over.resetSeconds));
      throw new BasaltError('rate_limited', { message: `Too many requests; try again in ${over.resetSeconds} s.` });
    }
    return hits;
  }

  /**
   * Count one request against `quota` without answering anything: no header, no 429. For quotas whose
   * state must not show in the answer (a per-address mail quota would otherwise tell a caller that
   * someone else asked for mail to that address). `undefined` when the quota is off (limit 0).
   */
  async count(quota: Quota, key: string): Promise<Hit | undefined> {
    return quota.limit > 0 ? this.#hit(quota, key) : undefined;
  }
}

/**
 * The client address used as a rate-limit key. IPv6 clients are grouped by their /64 prefix: one
 * subscriber line or host usually gets a whole /64, so counting single addresses would give an
 * attacker 2^64 fresh keys. IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function clientKey(request: Pick<FastifyRequest, 'ip'>): string {
  return ipKey(request.ip);
}

/** The rate-limit key of one address (see {@link clientKey}). */
export function ipKey(ip: string): string {
  const addr = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!isIPv6(addr)) return addr;
  const groups = ipv6Groups(addr);
  if (!groups) return addr;
  // ::ffff:a.b.c.d — an IPv4 client seen through a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a trailing dotted IPv4 expanded). */
function ipv6Groups(addr: string): number[] | undefined {
  let text = addr.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(fill).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The per-identity sign-in quota (`signin-identity`, as auth-with-password counts it) and its key for
 * an identity of a collection, so that password checks elsewhere (confirm-email-change) spend the same
 * budget as password sign-ins.
 */
export function signInIdentityQuota(limit: number): Quota {
  return { name: 'signin-identity', limit, windowSeconds: 900 };
}

/** The `signin-identity` key: `<collection name>\u0000<lower-cased identity>`, as auth-with-password builds it. */
export function signInIdentityKey(collectionName: string, identity: string): string {
  return `${collectionName}\u0000${identity.toLowerCase().slice(0, 254)}`;
}

/** Sleep before answering a failed sign-in: `base` doubling per recent failure, at most 2 s. */
export async function failureDelay(baseMs: number, recentFailures: number): Promise<void> {
  if (baseMs <= 0 || recentFailures <= 1) return;
  await sleep(Math.min(2000, baseMs * 2 ** Math.min(recentFailures - 2, 10)));
}
