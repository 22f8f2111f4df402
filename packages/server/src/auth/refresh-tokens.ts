/**
 * Opaque refresh tokens, rotated on every use, with reuse detection (OAuth 2.0 Security BCP, RFC 9700
 * §4.14.2). Only a SHA-256 of each token is stored. A token's successor is derived from it with an
 * HMAC, so concurrent refreshes with the same token inside a short grace period all receive the same
 * successor: parallel refreshes never create two live branches. Presenting a used token after the
 * grace period is treated as theft and revokes the whole family. A token also dies when its record's
 * password (tokenKey) changes.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';
import { formatTimestamp, newId } from '../tools/index.ts';
import type { Database, Executor } from '../db/index.ts';
import { tokenKeyHash } from './auth-tokens.ts';

/** What a valid refresh token stands for. */
export interface RefreshGrant {
  collectionId: string;
  recordId: string;
  /** The session (token family) the token belongs to. */
  session: string;
  /** The successor to hand back to the client. */
  refreshToken: string;
  /** How the session signed in (RFC 8176 `amr` values), kept across refreshes. */
  amr: string[];
  /** The tokenKey hash the session belongs to; an access token is issued only while it is current. */
  tokenKeyHash: string;
}

/** Where and how a session started. */
export interface SessionInfo {
  /** RFC 8176 authentication method references, e.g. `["pwd", "otp"]`. */
  amr: string[];
  ip: string;
  userAgent: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/**
 * How long this node trusts a "this session is live" answer before asking the database again. Ending a
 * session on another node reaches this one within this time (the security review asks for ≤ 2 s);
 * on this node it applies at once (the entry is dropped with the revocation).
 */
export const SESSION_LIVE_TTL_MS = 1500;
/** Most sessions remembered per node (live and ended, each); oldest first out. */
const SESSION_CACHE_MAX = 20_000;

/** The refresh-token store. */
export class RefreshTokens {
  readonly #db: Database;
  readonly #secret: Buffer;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #onFamilyRevoked?: (info: { family: string; collectionId: string; recordId: string; reason: 'reuse' | 'password_changed' }) => Promise<void> | void;
  /** Sessions found live, until when (see {@link SESSION_LIVE_TTL_MS}), with their owner for owner-wide revocations. */
  readonly #live = new Map<string, { until: number; collectionId: string; recordId: string }>();
  /** Sessions found ended: an ended session never comes back, so this needs no expiry. */
  readonly #ended = new Set<string>();

  constructor(db: Database, secret: Buffer, opts: {
    ttlSeconds: number;
    graceMs?: number;
    /** Told when reuse or a password change revokes a family (the audit trail listens). */
    onFamilyRevoked?: (info: { family: string; collectionId: string; recordId: string; reason: 'reuse' | 'password_changed' }) => Promise<void> | void;
  }) {
    this.#db = db;
    this.#secret = secret;
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#graceMs = opts.graceMs ?? 10_000;
    this.#onFamilyRevoked = opts.onFamilyRevoked;
  }

  #successor(token: string): string {
    return createHmac('sha256', this.#secret).update(token).digest('base64url');
  }

  /** Start a new session (token family) for a sign-in; answers the token (shown once, never stored) and the session id. */
  async issue(collectionId: string, recordId: string, tokenKey: string, info: SessionInfo): Promise<{ token: string; session: string }> {
    const token = randomBytes(32).toString('base64url');
    const session = newId(20);
    const now = Date.now();
    await this.#db.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO _sessions (id, collection_id, record_id, amr, ip, user_agent, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [session, collectionId, recordId, info.amr.join(' '), info.ip.slice(0, 64), info.userAgent.slice(0, 300), formatTimestamp(new Date(now))],
      );
      await tx.run(
        'INSERT INTO _refresh_tokens (hash, family, collection_id, record_id, token_key_hash, generation, created, expires) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
        [sha256(token), session, collectionId, recordId, tokenKeyHash(tokenKey), formatTimestamp(new Date(now)), formatTimestamp(new Date(now + this.#ttlMs))],
      );
    });
    return { token, session };
  }

  /** True when the record has signed in before from this device (same user agent); for new-device notices. */
  async knownDevice(collectionId: string, recordId: string, userAgent: string, exceptSession: string): Promise<boolean> {
    const row = await this.#db.get('SELECT id FROM _sessions WHERE collection_id = ? AND record_id = ? AND user_agent = ? AND id != ? LIMIT 1', [collectionId, recordId, userAgent.slice(0, 300), exceptSession]);
    return row !== undefined;
  }

  /** True when the record has any session besides `exceptSession` (live or not): false on its very first sign-in. */
  async hasOtherSessions(collectionId: string, recordId: string, exceptSession: string): Promise<boolean> {
    const row = await this.#db.get('SELECT id FROM _sessions WHERE collection_id = ? AND record_id = ? AND id != ? LIMIT 1', [collectionId, recordId, exceptSession]);
    return row !== undefined;
  }

  /**
   * Move a live session of a record to its new tokenKey (the session that changed its own password
   * stays signed in). Runs in the write's transaction `ex`.
   */
  async rekeySession(session: string, collectionId: string, recordId: string, tokenKey: string, ex: Executor): Promise<void> {
    await ex.run('UPDATE _refresh_tokens SET token_key_hash = ? WHERE family = ? AND collection_id = ? AND record_id = ? AND revoked = 0', [tokenKeyHash(tokenKey), session, collectionId, recordId]);
  }

  /**
   * A record's tokenKey changed (new password or email): revoke every session but `keep`, in the
   * write's transaction `ex`, so they end at once on every node (not only when they next refresh).
   */
  async revokeForKeyChange(collectionId: string, recordId: string, keep: string | undefined, ex: Executor): Promise<void> {
    this.#forget({ collectionId, recordId, keep });
    await ex.run(`UPDATE _refresh_tokens SET revoked = 1 WHERE collection_id = ? AND record_id = ? AND revoked = 0${keep ? ' AND family != ?' : ''}`, keep ? [collectionId, recordId, keep] : [collectionId, recordId]);
  }

  /**
   * True while a session (token family) has an unrevoked, unexpired refresh token: it was not ended.
   * With `tokenKey`, the session must also belong to the record's current key (not a superseded password).
   */
  async sessionLive(session: string, tokenKey?: string): Promise<boolean> {
    const keyed = tokenKey === undefined ? '' : ' AND token_key_hash = ?';
    const params = tokenKey === undefined ? [session, formatTimestamp()] : [session, formatTimestamp(), tokenKeyHash(tokenKey)];
    const row = await this.#db.get(`SELECT 1 AS ok FROM _refresh_tokens WHERE family = ? AND revoked = 0 AND expires > ?${keyed} LIMIT 1`, params);
    return row !== undefined;
  }

  /**
   * Whether the session of an access token is still live (not logged out, not ended by "end other
   * sessions", reuse detection or a key change, not expired), for every request that carries a
   * session-bound token. Answers from a per-node cache without a promise while the answer is fresh
   * (the authenticated hot path), else from the database. The session must belong to the token's record.
   */
  accessSessionLive(session: string, collectionId: string, recordId: string): boolean | Promise<boolean> {
    const hit = this.#live.get(session);
    if (hit !== undefined && hit.until > Date.now() && hit.collectionId === collectionId && hit.recordId === recordId) return true;
    if (this.#ended.has(session)) return false;
    return this.#db.get('SELECT 1 AS ok FROM _refresh_tokens WHERE family = ? AND collection_id = ? AND record_id = ? AND revoked = 0 AND expires > ? LIMIT 1', [session, collectionId, recordId, formatTimestamp()])
      .then((row) => {
        if (row === undefined) {
          this.#live.delete(session);
          if (this.#ended.size >= SESSION_CACHE_MAX) this.#ended.delete(this.#ended.values().next().value!);
          this.#ended.add(session);
          return false;
        }
        this.#live.delete(session);
        if (this.#live.size >= SESSION_CACHE_MAX) this.#live.delete(this.#live.keys().next().value!);
        this.#live.set(session, { until: Date.now() + SESSION_LIVE_TTL_MS, collectionId, recordId });
        return true;
      });
  }

  /** Forget cached "live" answers on this node: for one session, or every session of an owner (but `keep`). */
  #forget(which: { session: string } | { collectionId: string; recordId: string; keep?: string }): void {
    if ('session' in which) {
      this.#live.delete(which.session);
      return;
    }
    for (const [sid, v] of this.#live) if (v.collectionId === which.collectionId && v.recordId === which.recordId && sid !== which.keep) this.#live.delete(sid);
  }

  /** When a session signed in (ms since the epoch), or undefined for an unknown session. */
  async sessionStarted(session: string): Promise<number | undefined> {
    const row = await this.#db.get<{ created: string }>('SELECT created FROM _sessions WHERE id = ?', [session]);
    return row ? new Date(row.created.replace(' ', 'T')).getTime() : undefined;
  }

  /** How a session signed in (empty for a session this node does not know). */
  async sessionAmr(session: string): Promise<string[]> {
    const row = await this.#db.get<{ amr: string }>('SELECT amr FROM _sessions WHERE id = ?', [session]);
    return row?.amr ? row.amr.split(' ') : [];
  }

  /** A record's live sessions: families with an unrevoked, unexpired token. */
  async sessions(collectionId: string, recordId: string): Promise<{ id: string; created: string; lastUsed: string; expires: string; amr: string[]; ip: string; userAgent: string }[]> {
    const rows = await this.#db.all<{ family: string; created: string; last: string; expires: string; amr: string | null; ip: string | null; user_agent: string | null }>(
      `SELECT t.family, MIN(t.created) AS created, MAX(t.created) AS last, MAX(t.expires) AS expires, MAX(s.amr) AS amr, MAX(s.ip) AS ip, MAX(s.user_agent) AS user_agent
       FROM _refresh_tokens t LEFT JOIN _sessions s ON s.id = t.family
       WHERE t.collection_id = ? AND t.record_id = ? GROUP BY t.family
       HAVING MAX(t.revoked) = 0 AND MAX(t.expires) > ? ORDER BY MAX(t.created) DESC`,
      [collectionId, recordId, formatTimestamp()],
    );
    return rows.map((r) => ({ id: r.family, created: r.created, lastUsed: r.last, expires: r.expires, amr: r.amr ? r.amr.split(' ') : [], ip: r.ip ?? '', userAgent: r.user_agent ?? '' }));
  }

  /** Revoke one session of a record; false when it is not theirs or unknown. */
  async revokeSession(collectionId: string, recordId: string, session: string): Promise<boolean> {
    const r = await this.#db.run('UPDATE _refresh_tokens SET revoked = 1 WHERE collection_id = ? AND record_id = ? AND family = ? AND revoked = 0', [collectionId, recordId, session]);
    this.#forget({ session });
    return r.changes > 0;
  }

  /** Revoke every session of a record except `keep`. */
  async revokeOthers(collectionId: string, recordId: string, keep: string): Promise<void> {
    await this.#db.run('UPDATE _refresh_tokens SET revoked = 1 WHERE collection_id = ? AND record_id = ? AND family != ?', [collectionId, recordId, keep]);
    this.#forget({ collectionId, recordId, keep });
  }

  /**
   * Exchange `token` for its successor. `currentTokenKey` looks up the record's tokenKey now (a changed
   * password ends the family). Throws `token_invalid` for unknown, expired, revoked or reused tokens.
   */
  async rotate(token: string, currentTokenKey: (collectionId: string, recordId: string) => Promise<string | undefined>, expectedCollectionId?: string): Promise<RefreshGrant> {
    if (typeof token !== 'string' || token.length < 20 || token.length > 200) throw new BasaltError('token_invalid');
    const hash = sha256(token);
    const successor = this.#successor(token);
    const now = Date.now();
    type Row = { family: string; collection_id: string; record_id: string; token_key_hash: string; generation: number; expires: string; used: string; revoked: number };
    // The record's current tokenKey is read before the transaction: a second connection taken while
    // holding one could starve the PostgreSQL pool.
    const owner = await this.#db.get<{ collection_id: string; record_id: string }>('SELECT collection_id, record_id FROM _refresh_tokens WHERE hash = ?', [hash]);
    // A token sent to another collection's endpoint is refused before it is used up.
    if (!owner || (expectedCollectionId !== undefined && owner.collection_id !== expectedCollectionId)) throw new BasaltError('token_invalid');
    const key = await currentTokenKey(owner.collection_id, owner.record_id);
    const outcome = await this.#db.transaction(async (tx) => {
      const row = await tx.get<Row>(`SELECT family, collection_id, record_id, token_key_hash, generation, expires, used, revoked FROM _refresh_tokens WHERE hash = ?${this.#db.dialect.rowLockSuffix}`, [hash]);
      if (!row || Number(row.revoked) === 1 || row.expires < formatTimestamp(new Date(now))) return { kind: 'invalid' as const };
      if (key === undefined || tokenKeyHash(key) !== row.token_key_hash) return { kind: 'revoke' as const, family: row.family, reason: 'password_changed' as const };
      const grant = { collectionId: row.collection_id, recordId: row.record_id, session: row.family, refreshToken: successor, amr: [] as string[], tokenKeyHash: row.token_key_hash };
      if (row.used === '') {
        const taken = await tx.run(`UPDATE _refresh_tokens SET used = ? WHERE hash = ? AND used = ''`, [formatTimestamp(new Date(now)), hash]);
        if (taken.changes === 1) {
          await tx.run(
            'INSERT INTO _refresh_tokens (hash, family, collection_id, record_id, token_key_hash, generation, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [sha256(successor), row.family, row.collection_id, row.record_id, row.token_key_hash, Number(row.generation) + 1, formatTimestamp(new Date(now)), formatTimestamp(new Date(now + this.#ttlMs))],
          );
          return { kind: 'ok' as const, grant };
        }
        return { kind: 'ok' as const, grant };
      }
      // Used before: a concurrent refresh inside the grace period gets the same successor; later, it is reuse.
      const usedAt = new Date(row.used.replace(' ', 'T')).getTime();
      if (now - usedAt <= this.#graceMs) return { kind: 'ok' as const, grant };
      return { kind: 'revoke' as const, family: row.family, reason: 'reuse' as const };
    });
    if (outcome.kind === 'ok') return { ...outcome.grant, amr: await this.sessionAmr(outcome.grant.session) };
    if (outcome.kind === 'revoke') {
      await this.#db.run('UPDATE _refresh_tokens SET revoked = 1 WHERE family = ?', [outcome.family]);
      this.#forget({ session: outcome.family });
      await this.#onFamilyRevoked?.({ family: outcome.family, collectionId: owner.collection_id, recordId: owner.record_id, reason: outcome.reason });
    }
    throw new BasaltError('token_invalid');
  }

  /**
   * Delete refresh tokens that expired more than a day ago (they can no longer be used, and reuse of
   * an expired token is refused anyway), and the records of sessions with no token left.
   */
  async prune(now = Date.now()): Promise<number> {
    const cutoff = formatTimestamp(new Date(now - 86_400_000));
    // In batches: one huge DELETE would hold SQLite's write lock for the whole scan.
    let changes = 0;
    for (;;) {
      const r = await this.#db.run('DELETE FROM _refresh_tokens WHERE hash IN (SELECT hash FROM _refresh_tokens WHERE expires < ? LIMIT 1000)', [cutoff]);
      changes += r.changes;
      if (r.changes < 1000) break;
    }
    await this.#db.run('DELETE FROM _sessions WHERE created < ? AND NOT EXISTS (SELECT 1 FROM _refresh_tokens t WHERE t.family = _sessions.id)', [cutoff]);
    return changes;
  }

  /** Revoke every refresh token of a record (logout everywhere). */
  async revokeAll(collectionId: string, recordId: string): Promise<void> {
    await this.#db.run('UPDATE _refresh_tokens SET revoked = 1 WHERE collection_id = ? AND record_id = ?', [collectionId, recordId]);
    this.#forget({ collectionId, recordId });
  }

  /** Revoke the family of one of a record's tokens (logout of one session). No-op for other tokens. */
  async revokeFamilyOf(token: string, collectionId: string, recordId: string): Promise<void> {
    const row = await this.#db.get<{ family: string }>('SELECT family FROM _refresh_tokens WHERE hash = ? AND collection_id = ? AND record_id = ?', [sha256(token), collectionId, recordId]);
    if (row) {
      await this.#db.run('UPDATE _refresh_tokens SET revoked = 1 WHERE family = ?', [row.family]);
      this.#forget({ session: row.family });
    }
  }
}

/** The HMAC secret for successors: generated on first start and shared by every node through `_params`. */
export async function loadRefreshSecret(db: Database): Promise<Buffer> {
  const key = 'auth.refreshSecret';
  await db.run('INSERT INTO _params (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, randomBytes(32).toString('base64url')]);
  const row = await db.get<{ value: string }>('SELECT value FROM _params WHERE key = ?', [key]);
  return Buffer.from(row!.value, 'base64url');
}
