/**
 * API keys for servers: long random secrets shown once, stored as SHA-256 hashes, scoped to roles,
 * with an expiry, revocable. A key authenticates as an `apikey` principal whose `@request.auth`
 * carries its role names and permissions, so the same rules decide what it may do; a key is never a
 * superuser.
 *
 * Wire form: `bsk_<id>_<secret>` (`Authorization: Bearer bsk_…`). The id finds the row; the secret's
 * hash is compared in constant time. 256 random bits make a plain SHA-256 safe here: a slow password
 * hash only matters for guessable secrets.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';
import { formatTimestamp, newId, normalizeTimestamp } from '../tools/index.ts';
import type { Database } from '../db/index.ts';
import type { Principal } from '../records/index.ts';
import type { RoleDirectory } from './roles.ts';

/** An API key as listed (never its secret). */
export interface ApiKeyInfo {
  id: string;
  name: string;
  roles: string[];
  created: string;
  /** When the key stops working. */
  expires: string;
  /** Roughly when it was last used (updated at most every few minutes), or empty. */
  lastUsed: string;
  revoked: boolean;
  /** Who created it (`superuser:<id>`). */
  createdBy: string;
}

/** What creating a key answers: the info plus the key itself, shown this once. */
export interface NewApiKey extends ApiKeyInfo {
  key: string;
}

/** Default and longest lifetimes of a key. */
export const API_KEY_DEFAULT_DAYS = 90;
export const API_KEY_MAX_DAYS = 3 * 366;
/** How often `lastUsed` is written for a busy key (and `apikey.use` audited). */
const LAST_USED_EVERY_MS = 10 * 60 * 1000;
/** How long a verified key is trusted on this node before its row is read again (revocation delay on other nodes). */
const CACHE_TTL_MS = 2000;
const TOKEN = /^bsk_([a-z0-9]{15})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

type Row = { id: string; name: string; hash: string; roles: string; created: string; expires: string; last_used: string; revoked: number; created_by: string };

function info(r: Row): ApiKeyInfo {
  return { id: r.id, name: r.name, roles: JSON.parse(r.roles) as string[], created: r.created, expires: r.expires, lastUsed: r.last_used, revoked: Number(r.revoked) === 1, createdBy: r.created_by };
}

/** The API key store. */
export class ApiKeys {
  readonly #db: Database;
  readonly #roles: RoleDirectory;
  readonly #onUse?: (key: ApiKeyInfo) => Promise<void> | void;
  readonly #verified = new Map<string, { principal: Principal; until: number }>();
  readonly #lastWritten = new Map<string, number>();

  /** `onUse` is told (at most every few minutes per key) that a key was used: the audit trail listens. */
  constructor(db: Database, roles: RoleDirectory, onUse?: (key: ApiKeyInfo) => Promise<void> | void) {
    this.#db = db;
    this.#roles = roles;
    this.#onUse = onUse;
  }

  /** True when a credential is an API key rather than an access token. */
  static looksLikeKey(token: string): boolean {
    return token.startsWith('bsk_');
  }

  /** Create a key; the answer holds the secret, which is not stored and cannot be shown again. */
  async create(body: unknown, createdBy: string): Promise<NewApiKey> {
    const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    const errors: Record<string, { code: string; message: string }> = {};
    for (const k of Object.keys(b)) if (!['name', 'roles', 'expires'].includes(k)) errors[k] = { code: 'validation_unknown_field', message: 'Unknown field.' };
    const name = typeof b.name === 'string' ? b.name.trim() : '';
    if (!name || name.length > 100) errors.name = { code: 'validation_required', message: 'A name of 1–100 characters is required.' };
    const roles = b.roles ?? [];
    if (!Array.isArray(roles) || roles.length > 50 || roles.some((r) => typeof r !== 'string')) errors.roles = { code: 'validation_invalid_value', message: 'roles must be a list of role names.' };
    const now = Date.now();
    let expires = formatTimestamp(new Date(now + API_KEY_DEFAULT_DAYS * 86_400_000));
    if (b.expires !== undefined) {
      const e = typeof b.expires === 'string' ? normalizeTimestamp(b.expires) : null;
      const t = e ? new Date(e.replace(' ', 'T')).getTime() : NaN;
      if (!e || !(t > now) || t > now + API_KEY_MAX_DAYS * 86_400_000) errors.expires = { code: 'validation_invalid_date', message: `expires must be a future date within ${API_KEY_MAX_DAYS} days.` };
      else expires = e;
    }
    if (Object.keys(errors).length) throw new BasaltError('validation_failed', { data: errors });
    const names = [...new Set(roles as string[])].sort();
    await this.#roles.fromNames(names); // unknown roles are a 400
    const id = newId();
    const secret = randomBytes(32).toString('base64url');
    const row: Row = { id, name, hash: sha256(secret).toString('base64url'), roles: JSON.stringify(names), created: formatTimestamp(new Date(now)), expires, last_used: '', revoked: 0, created_by: createdBy };
    await this.#db.run(
      'INSERT INTO _api_keys (id, name, hash, roles, created, expires, last_used, revoked, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [row.id, row.name, row.hash, row.roles, row.created, row.expires, row.last_used, row.revoked, row.created_by],
    );
    return { ...info(row), key: `bsk_${id}_${secret}` };
  }

  /** Every key, newest first (without secrets). */
  async list(): Promise<ApiKeyInfo[]> {
    return (await this.#db.all<Row>('SELECT * FROM _api_keys ORDER BY created DESC, id')).map(info);
  }

  /** Forget verified keys on this node (their roles' permissions changed). */
  clearCache(): void {
    this.#verified.clear();
  }

  /** Revoke a key; false when there is no such key. Other nodes stop accepting it within seconds. */
  async revoke(id: string): Promise<boolean> {
    for (const [token, v] of this.#verified) if (v.principal.kind === 'apikey' && v.principal.record.id === id) this.#verified.delete(token);
    return (await this.#db.run('UPDATE _api_keys SET revoked = 1 WHERE id = ?', [id])).changes > 0;
  }

  /** The principal of a key; `token_invalid` for unknown, wrong, expired or revoked keys. */
  async principal(token: string): Promise<Principal> {
    const cached = this.#verified.get(token);
    const now = Date.now();
    if (cached && cached.until > now) return cached.principal;
    const m = TOKEN.exec(token);
    if (!m) throw new BasaltError('token_invalid');
    const row = await this.#db.get<Row>('SELECT * FROM _api_keys WHERE id = ?', [m[1]]);
    // Hash even when the row is missing, so unknown ids take as long as wrong secrets.
    const given = sha256(m[2]);
    const stored = row ? Buffer.from(row.hash, 'base64url') : sha256('');
    const match = stored.length === given.length && timingSafeEqual(stored, given);
    if (!row || !match || Number(row.revoked) === 1 || row.expires <= formatTimestamp(new Date(now))) throw new BasaltError('token_invalid');
    const key = info(row);
    const grants = await this.#roles.existingFromNames(key.roles);
    const principal: Principal = { kind: 'apikey', record: { id: key.id, collectionName: '_api_keys', name: key.name, roles: grants.roles, permissions: grants.permissions } };
    if (this.#verified.size >= 10_000) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { principal, until: now + CACHE_TTL_MS });
    if (now - (this.#lastWritten.get(key.id) ?? 0) > LAST_USED_EVERY_MS) {
      this.#lastWritten.set(key.id, now);
      await this.#db.run('UPDATE _api_keys SET last_used = ? WHERE id = ?', [formatTimestamp(new Date(now)), key.id]);
      await this.#onUse?.(key);
    }
    return principal;
  }
}
