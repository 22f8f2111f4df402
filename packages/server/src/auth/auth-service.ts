/**
 * Sign-in, token refresh and principal resolution for auth collections (`_superusers` and user
 * collections). OAuth, OTP and MFA build on the same pieces.
 */
import { BasaltError } from '../errors/index.ts';
import { dummyPasswordHash, verifyPassword } from '../tools/index.ts';
import { ANONYMOUS, emptyRequest, type Principal, type RecordsService } from '../records/index.ts';
import { TokenService, tokenKeyHash } from './auth-tokens.ts';
import type { RefreshTokens } from './refresh-tokens.ts';
import { ApiKeys } from './api-keys.ts';
import type { RoleDirectory } from './roles.ts';
import { MfaChallenges } from './mfa/mfa-challenges.ts';
import { authOptions, type Collection } from '../schema/index.ts';

/** The principal of one token: the record's principal with the token's session and methods. */
function withSession(p: Principal, sid: string | undefined, amr: readonly string[] | undefined): Principal {
  if (p.kind === 'anonymous' || (!sid && !amr)) return p;
  return { ...p, ...(sid ? { session: sid } : {}), ...(amr ? { amr } : {}) };
}

/** The client a sign-in comes from (session list, new-device notices, audit). */
export interface ClientInfo {
  ip: string;
  userAgent: string;
}

/** Options of {@link AuthService.signIn}. */
export interface SignInOptions {
  /**
   * PocketBase's `mfaId` from the request body: the id of a first factor already proven, when this
   * sign-in is the second factor of a multi-factor sign-in. Unvalidated client input.
   */
  mfaId?: unknown;
  /**
   * The method's name where MFA must tell methods apart that share an amr value (`totp`, `recovery`,
   * `passkey`); defaults to the amr values (`pwd`, `otp`, `fed`).
   */
  method?: string;
}

/** What listeners learn about each completed sign-in (new-device notices, audit). */
export interface SignInEvent {
  collection: Collection;
  /** The stored row (with hidden fields; never send it out as is). */
  row: Record<string, unknown>;
  amr: readonly string[];
  session: string;
  client: ClientInfo;
}

/** How long a resolved principal is reused on this node (see AuthService). */
export const PRINCIPAL_TTL_MS = 2000;

/** What a successful sign-in answers (PocketBase's shape, plus Basalt's rotating `refreshToken`). */
export interface AuthResult {
  token: string;
  record: unknown;
  refreshToken?: string;
}

/** Authentication over an auth collection's records. */
export class AuthService {
  readonly #records: RecordsService;
  readonly #tokens: TokenService;
  readonly #refresh: RefreshTokens;
  /** Role names and permissions of user records (`@request.auth.roles` / `.permissions`). */
  readonly roles: RoleDirectory;
  /** API keys for servers. */
  readonly apiKeys: ApiKeys;
  /** The MFA policy and its pending first factors (`mfaId`s). */
  readonly mfa: MfaChallenges;
  /**
   * Principals resolved from a record in the last {@link PRINCIPAL_TTL_MS}, keyed by collection id and
   * record id. Writes to auth records on this node drop their entry at once; other nodes see a changed
   * password or a deleted account within the TTL.
   */
  readonly #principals = new Map<string, { tkh: string; principal: Principal; until: number }>();
  readonly #signInListeners: ((e: SignInEvent) => Promise<void> | void)[] = [];

  constructor(records: RecordsService, tokens: TokenService, refresh: RefreshTokens, roles: RoleDirectory, apiKeys: ApiKeys) {
    this.roles = roles;
    this.apiKeys = apiKeys;
    this.#records = records;
    this.#tokens = tokens;
    this.#refresh = refresh;
    this.mfa = new MfaChallenges(records);
    // Each auth collection's `authToken.duration` bounds its tokens (0: the server's TTL); cached per
    // schema version, since verification asks on every request.
    let lifetimes = new Map<string, number | undefined>();
    let version = -1;
    tokens.useLifetimes((collectionId) => {
      if (version !== records.registry.version) {
        lifetimes = new Map();
        version = records.registry.version;
      }
      if (!lifetimes.has(collectionId)) {
        const c = records.registry.find(collectionId);
        const d = c?.type === 'auth' ? authOptions(c).authToken.duration : 0;
        lifetimes.set(collectionId, d > 0 ? d : undefined);
      }
      return lifetimes.get(collectionId);
    });
    records.hooks.on('*', '*', async (e, next) => {
      await next();
      if (e.collection.type === 'auth') this.#principals.delete(`${e.collection.id}/${String(e.record.id ?? e.original?.id ?? '')}`);
    }, { id: 'auth-principal-cache', priority: 1001 });
    // A new password (or email) rotates the record's tokenKey, which ends every session — except the
    // one that made the change itself: its refresh token moves to the new key, so that device stays
    // signed in (after one refresh) while every other device is signed out.
    records.hooks.on('update', '*', async (e, next) => {
      await next();
      const p = e.principal;
      const id = String(e.original?.id ?? '');
      const self = p.kind === 'superuser' ? e.collection.name === '_superusers' && String(p.record.id) === id
        : p.kind === 'record' && p.collection === e.collection.name && String(p.record.id) === id;
      if (e.collection.type !== 'auth' || typeof e.record.tokenKey !== 'string') return;
      const keep = self && (p.kind === 'superuser' || p.kind === 'record') ? p.session : undefined;
      // Other sessions end in this transaction, on every node at once (not when they next refresh).
      await this.#refresh.revokeForKeyChange(e.collection.id, id, keep, e.tx);
      if (keep) await this.#refresh.rekeySession(keep, e.collection.id, id, e.record.tokenKey, e.tx);
    }, { id: 'auth-sessions-on-key-change', priority: 1002 });
    // Role and permission changes apply to principals cached on this node at once.
    records.hooks.on('*', '_roles', async (_e, next) => {
      await next();
      this.#principals.clear();
      this.apiKeys.clearCache();
    }, { id: 'auth-roles-changed', priority: 1002 });
  }

  /**
   * `auth-with-password`: the same answer, and about the same time, for an unknown identity as for a
   * wrong password (the hash is computed either way).
   */
  async authWithPassword(collection: string, identity: unknown, password: unknown, client: ClientInfo, opts: SignInOptions & { identityField?: unknown } = {}): Promise<AuthResult> {
    const c = this.authCollection(collection);
    // PocketBase: 403 when the collection does not allow password sign-in.
    if (!authOptions(c).passwordAuth.enabled) throw new BasaltError('password_auth_disabled');
    const problems: Record<string, { code: string; message: string }> = {};
    if (typeof identity !== 'string' || identity === '' || identity.length > 254) problems.identity = { code: 'validation_required', message: 'Cannot be blank.' };
    if (typeof password !== 'string' || password === '' || password.length > 1024) problems.password = { code: 'validation_required', message: 'Cannot be blank.' };
    if (Object.keys(problems).length) throw new BasaltError('validation_failed', { data: problems });
    const row = await this.#findByIdentity(c, identity as string, opts.identityField);
    const hash = typeof row?.password === 'string' ? row.password : await dummyPasswordHash();
    const ok = await verifyPassword(password as string, hash);
    if (!row || !ok) throw new BasaltError('auth_failed');
    return this.signIn(c, row, ['pwd'], client, { mfaId: opts.mfaId });
  }

  /**
   * The record a password sign-in names: by `identityField` when given (one of the collection's
   * `passwordAuth.identityFields`), else by each identity field in turn (PocketBase). Emails match
   * regardless of case; other identity fields (unique text fields) exactly.
   */
  async #findByIdentity(c: Collection, identity: string, identityField: unknown): Promise<Record<string, unknown> | undefined> {
    const fields = authOptions(c).passwordAuth.identityFields;
    if (identityField !== undefined && identityField !== '') {
      if (typeof identityField !== 'string' || !fields.includes(identityField)) {
        throw new BasaltError('validation_failed', { data: { identityField: { code: 'validation_in_invalid', message: `Must be one of: ${fields.join(', ')}.` } } });
      }
      return this.#records.findRawBy(c.name, identityField, identity);
    }
    for (const f of fields) {
      const row = await this.#records.findRawBy(c.name, f, identity);
      if (row) return row;
    }
    return undefined;
  }

  /** An auth collection by id or name; `not_found` for others. */
  authCollection(idOrName: string): Collection {
    const c = this.#records.registry.get(idOrName);
    if (c.type !== 'auth') throw new BasaltError('not_found', { message: 'The collection is not an auth collection.' });
    return c;
  }

  /** Be told of every completed sign-in (after the tokens are issued). */
  onSignIn(listener: (e: SignInEvent) => Promise<void> | void): void {
    this.#signInListeners.push(listener);
  }

  /**
   * Finish a sign-in whose factors are proven: check the auth rule, start a session (refresh-token
   * family) and issue the tokens. Every sign-in method (password, OTP, OAuth, passkey) ends here.
   * `amr` lists the methods used (RFC 8176: `pwd`, `otp`, `fed`, `hwk`, `mfa`).
   */
  async signIn(c: Collection, row: Record<string, unknown>, amr: readonly string[], client: ClientInfo, opts: SignInOptions = {}): Promise<AuthResult> {
    const self = await this.#selfPrincipal(c, row);
    // The auth rule: an extra condition the record must meet to sign in (`null` = nobody can).
    if (c.name !== '_superusers' && !(await this.#records.passesRule(c, c.authRule ?? '', String(row.id), self))) {
      throw new BasaltError('auth_failed');
    }
    // MFA policy (auth/mfa): completes a pending mfaId, or answers 401 {mfaId} for a lone first factor.
    amr = await this.mfa.gate(c, row, amr, opts, self, client);
    const record = await this.#answerRecord(c, row);
    const { token: refreshToken, session } = await this.#refresh.issue(c.id, String(row.id), String(row.tokenKey), { amr: [...amr], ...client });
    const token = await this.#tokens.issue({ id: String(row.id), tokenKey: String(row.tokenKey) }, c.id, session, amr);
    for (const listener of this.#signInListeners) await listener({ collection: c, row, amr, session, client });
    return { token, record, refreshToken };
  }

  /**
   * `auth-refresh`: with `refreshToken`, rotate it (reuse revokes its family) and answer a new access
   * token and successor; without it, PocketBase's form: a still-valid access token of this collection
   * in `Authorization` is renewed.
   */
  async authRefresh(collection: string, refreshToken: unknown, principal: Principal): Promise<AuthResult> {
    const c = this.authCollection(collection);
    let recordId: string;
    let successor: string | undefined;
    let session: string | undefined;
    let amr: readonly string[] = [];
    let grantKeyHash = '';
    if (refreshToken !== undefined) {
      if (typeof refreshToken !== 'string') throw new BasaltError('token_invalid');
      const grant = await this.#refresh.rotate(refreshToken, async (collectionId, id) => {
        const owner = this.#records.registry.find(collectionId);
        const row = owner ? await this.#records.findRawBy(owner.name, 'id', id) : undefined;
        return row ? String(row.tokenKey) : undefined;
      }, c.id);
      if (grant.collectionId !== c.id) throw new BasaltError('token_invalid');
      recordId = grant.recordId;
      successor = grant.refreshToken;
      session = grant.session;
      amr = grant.amr;
      grantKeyHash = grant.tokenKeyHash;
    } else {
      const own = principal.kind === 'superuser' ? c.name === '_superusers' : principal.kind === 'record' && principal.collection === c.name;
      if (!own || (principal.kind !== 'superuser' && principal.kind !== 'record')) throw new BasaltError('unauthorized');
      recordId = String(principal.record.id);
      session = principal.session;
      amr = principal.amr ?? [];
    }
    const row = await this.#records.findRawBy(c.name, 'id', recordId);
    if (!row) throw new BasaltError('token_invalid');
    // Tokens are issued only for a session of the record's current key: a password or email change
    // that committed meanwhile ends it. Without a refresh token, the session must also still be live
    // (logout, "end other sessions" and refresh-token reuse end it).
    if (successor !== undefined ? grantKeyHash !== tokenKeyHash(String(row.tokenKey)) : !session || !(await this.#refresh.sessionLive(session, String(row.tokenKey)))) {
      throw new BasaltError('token_invalid');
    }
    const self = await this.#selfPrincipal(c, row);
    if (c.name !== '_superusers' && !(await this.#records.passesRule(c, c.authRule ?? '', recordId, self))) throw new BasaltError('token_invalid');
    // A session that signed in with one factor is not renewed once the MFA policy covers its record.
    if (!amr.includes('mfa') && (await this.mfa.required(c, recordId, self))) {
      throw new BasaltError('token_invalid', { message: 'Multi-factor authentication is now required: sign in again.' });
    }
    const record = await this.#answerRecord(c, row);
    const token = await this.#tokens.issue({ id: recordId, tokenKey: String(row.tokenKey) }, c.id, session, amr);
    return successor ? { token, record, refreshToken: successor } : { token, record };
  }

  /**
   * For new-device notices: whether the sign-in `e` is the record's first (no earlier session at all),
   * and whether it signed in before from the same user agent.
   */
  async deviceHistory(e: SignInEvent): Promise<{ firstSignIn: boolean; knownDevice: boolean }> {
    const id = String(e.row.id);
    if (!(await this.#refresh.hasOtherSessions(e.collection.id, id, e.session))) return { firstSignIn: true, knownDevice: false };
    return { firstSignIn: false, knownDevice: await this.#refresh.knownDevice(e.collection.id, id, e.client.userAgent, e.session) };
  }

  /**
   * True when the caller signed in (with any method) within `withinMs`: the token's session started
   * that recently. Refreshing a token does not make a sign-in recent.
   */
  async signedInRecently(principal: Principal, withinMs: number): Promise<boolean> {
    if ((principal.kind !== 'superuser' && principal.kind !== 'record') || !principal.session) return false;
    const started = await this.#refresh.sessionStarted(principal.session);
    return started !== undefined && Date.now() - started <= withinMs && (await this.#refresh.sessionLive(principal.session));
  }

  /**
   * The record as rules see it when it is the caller (`@request.auth` of the auth rule, `mfa.rule` and
   * every request): all its fields as superusers see them, with role *names* and permissions.
   */
  async #selfPrincipal(c: Collection, row: Record<string, unknown>): Promise<Principal> {
    const record = await this.#records.present({ principal: { kind: 'superuser', record: {} }, request: emptyRequest() }, c, row) as Record<string, unknown>;
    if (c.name === '_superusers') return { kind: 'superuser', record };
    // Rules see role names and permissions, not the relation's ids (only for Basalt's system field: a
    // collection that kept a `roles` field of its own sees its values as they are).
    if (c.fields.some((f) => f.name === 'roles' && f.system)) Object.assign(record, await this.roles.fromIds(record.roles));
    return { kind: 'record', collection: c.name, record };
  }

  /** The record as a sign-in or refresh answers it: what the record may see of itself. */
  async #answerRecord(c: Collection, row: Record<string, unknown>): Promise<Record<string, unknown>> {
    const self: Principal = c.name === '_superusers' ? { kind: 'superuser', record: { id: row.id } } : { kind: 'record', collection: c.name, record: { id: row.id } };
    return (await this.#records.present({ principal: self, request: emptyRequest() }, c, row)) as Record<string, unknown>;
  }

  /** The caller's live sessions; `current` marks the one its token belongs to. */
  async sessions(principal: Principal): Promise<{ id: string; created: string; lastUsed: string; expires: string; amr: string[]; ip: string; userAgent: string; current: boolean }[]> {
    const { collectionId, recordId } = this.#owner(principal);
    const current = principal.kind === 'superuser' || principal.kind === 'record' ? principal.session : undefined;
    return (await this.#refresh.sessions(collectionId, recordId)).map((s) => ({ ...s, current: s.id === current }));
  }

  /** Revoke one of the caller's sessions, or with `others` all but the current one. */
  async revokeSessions(principal: Principal, which: { id?: string; others?: boolean }): Promise<void> {
    const { collectionId, recordId } = this.#owner(principal);
    if (which.others) {
      if ((principal.kind !== 'superuser' && principal.kind !== 'record') || !principal.session) throw new BasaltError('validation_failed', { message: 'This token belongs to no session; sign in again to use "others".' });
      await this.#refresh.revokeOthers(collectionId, recordId, principal.session);
      return;
    }
    if (!which.id || !(await this.#refresh.revokeSession(collectionId, recordId, which.id))) throw new BasaltError('not_found', { message: 'No such session.' });
  }

  #owner(principal: Principal): { collectionId: string; recordId: string } {
    if (principal.kind === 'anonymous') throw new BasaltError('unauthorized');
    if (principal.kind === 'apikey') throw new BasaltError('forbidden', { message: 'API keys have no sessions.' });
    const collectionId = principal.kind === 'superuser' ? this.#records.registry.get('_superusers').id : this.#records.registry.get(principal.collection).id;
    return { collectionId, recordId: String(principal.record.id) };
  }

  /** End one session (its refresh-token family), or every session of the caller with `all`. */
  async logout(principal: Principal, refreshToken: unknown, all: boolean): Promise<void> {
    const { collectionId, recordId } = this.#owner(principal);
    if (all) await this.#refresh.revokeAll(collectionId, recordId);
    else if (typeof refreshToken === 'string') await this.#refresh.revokeFamilyOf(refreshToken, collectionId, recordId);
    else throw new BasaltError('validation_failed', { data: { refreshToken: { code: 'validation_required', message: 'Give the refresh token to end, or all: true.' } } });
  }

  /** Resolve the principal of a request from its `Authorization` header (bare token or `Bearer …`). */
  async principalFromHeader(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === '') return ANONYMOUS;
    const token = header.replace(/^Bearer\s+/i, '').trim();
    if (!token) return ANONYMOUS;
    if (ApiKeys.looksLikeKey(token)) return this.apiKeys.principal(token);
    const claims = await this.#tokens.verify(token);
    // A session-bound token lives only as long as its session: logout, "end other sessions" and
    // reuse detection end its access tokens too, on this node at once and on others within
    // SESSION_LIVE_TTL_MS. A cached answer costs no database read and no promise.
    if (claims.sid !== undefined) {
      const live = this.#refresh.accessSessionLive(claims.sid, claims.collectionId, claims.id);
      if (live !== true && !(await live)) throw new BasaltError('token_invalid');
    }
    const cacheKey = `${claims.collectionId}/${claims.id}`;
    const cached = this.#principals.get(cacheKey);
    if (cached && cached.tkh === claims.tkh && cached.until > Date.now()) return withSession(cached.principal, claims.sid, claims.amr);
    const c = this.#records.registry.find(claims.collectionId);
    if (!c || c.type !== 'auth') throw new BasaltError('token_invalid');
    const row = await this.#records.findRawBy(c.name, 'id', claims.id);
    if (!row || tokenKeyHash(String(row.tokenKey)) !== claims.tkh) throw new BasaltError('token_invalid');
    const principal = await this.#selfPrincipal(c, row);
    if (this.#principals.size >= 10_000) this.#principals.delete(this.#principals.keys().next().value!);
    this.#principals.set(cacheKey, { tkh: claims.tkh, principal, until: Date.now() + PRINCIPAL_TTL_MS });
    return withSession(principal, claims.sid, claims.amr);
  }

  /** Create or update a superuser (CLI `superuser upsert`). */
  async upsertSuperuser(email: string, password: string): Promise<'created' | 'updated'> {
    // Audited as the CLI (the only caller): there is no signed-in superuser behind it.
    const su: Principal = { kind: 'superuser', record: { id: 'cli' } };
    const ctx = { principal: su, request: emptyRequest() };
    const existing = await this.#records.findRawBy('_superusers', 'email', email);
    if (existing) {
      await this.#records.update(ctx, '_superusers', String(existing.id), { password, passwordConfirm: password });
      return 'updated';
    }
    await this.#records.create(ctx, '_superusers', { email, password, passwordConfirm: password, verified: true });
    return 'created';
  }
}
