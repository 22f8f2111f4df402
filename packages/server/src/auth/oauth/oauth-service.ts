/**
 * OAuth 2.0 / OpenID Connect sign-in for auth collections, PocketBase's API: `auth-methods` starts a
 * server-side flow per provider, `auth-with-oauth2` completes it — exchange the code (openid-client),
 * find or create the record, link the identity, and finish through {@link AuthService.signIn} with
 * `amr: ["fed"]`.
 *
 * Linking rules (PocketBase advisories GHSA-m93w-4fxv-r35v and GHSA-pq7p-mc74-g65w): a new provider
 * identity is attached to an existing account by email only when the provider vouches for the email
 * AND the account's email is verified; otherwise the sign-in is refused. A new account takes its email
 * from the provider, never from `createData`, and takes a `createData.password` only when the provider
 * vouches for the email. Identities linked to an unverified account are dropped when the account later
 * gets verified; when a linking proves an unverified account's email, its password is replaced and
 * every session ends (email squatting). A signed-in caller links only with a recent sign-in.
 * See docs/oauth.md.
 */
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import type { Database } from '../../db/index.ts';
import { ANONYMOUS, emptyRequest, type CallContext, type Principal, type RecordsService } from '../../records/index.ts';
import { authOptions, type Collection, type OAuthProviderOptions } from '../../schema/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import type { AuthResult, AuthService, ClientInfo } from '../auth-service.ts';
import { unknownPassword } from '../auth-email-flows.ts';
import { OAuthFlows, s256 } from './oauth-flows.ts';
import { OAuthIdentities, type Identity } from './oauth-identities.ts';
import { ProviderResolver, type ExchangeResult } from './oauth-provider.ts';
import { OAuthClientSecrets } from './oauth-client-secrets.ts';
import type { OAuthUser } from './oauth-profile.ts';

/** One provider in the `auth-methods` answer (PocketBase's shape). */
export interface AuthMethodsProvider {
  name: string;
  displayName: string;
  state: string;
  authURL: string;
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: string;
}

/** `meta` of an OAuth2 sign-in answer (PocketBase's shape, without the provider's tokens). */
export interface OAuthMeta {
  id: string;
  name: string;
  username: string;
  email: string;
  avatarURL: string;
  isNew: boolean;
  rawUser: Record<string, unknown>;
}

/** What a completed OAuth2 sign-in produced. */
export interface OAuthSignIn {
  /** The answer: PocketBase's `{token, record, meta}` plus Basalt's `refreshToken`. */
  result: AuthResult & { meta: OAuthMeta };
  collection: Collection;
  recordId: string;
  provider: string;
  isNew: boolean;
  /** An identity was linked to an existing record: by matching email (`auto`) or by its signed-in owner. */
  linked?: 'auto' | 'explicit';
}

/** The `auth-with-oauth2` call. */
export interface OAuthSignInInput {
  collection: string;
  body: unknown;
  /** The caller: a signed-in record of the collection links the identity to itself. */
  principal: Principal;
  /**
   * How recent the caller's sign-in must be (ms) to link a new identity to itself: a stolen access
   * token alone must not add a lasting way in. Older sign-ins get `reauthentication_required`.
   */
  recentSignInMs: number;
  client: ClientInfo;
  /** Runs before a new record is created (the route's sign-up rate limit). */
  beforeSignUp?: () => Promise<void>;
}

/** An identity as its owner may list it. */
export interface IdentityInfo {
  id: string;
  provider: string;
  providerId: string;
  email: string;
  created: string;
  updated: string;
}

/** A sign-in that was refused before anyone signed in, with what the audit trail should say. */
export class OAuthRefusal extends Error {
  readonly error: BasaltError;
  readonly target: string;
  readonly provider: string;

  constructor(error: BasaltError, target: string, provider: string) {
    super(error.message, { cause: error });
    this.error = error;
    this.target = target;
    this.provider = provider;
  }
}

/**
 * The principal of the writes the flow itself makes (marking a new account verified from the
 * provider's word): the proof is the provider's answer, not a signed-in caller. Audited as
 * `superuser:system`, like the email flows.
 */
const SYSTEM: Principal = Object.freeze({ kind: 'superuser', record: Object.freeze({ id: 'system' }) });

/** Members of `createData` that only the provider may decide (GHSA-pq7p-mc74-g65w: the email). */
const PROVIDER_DECIDED = new Set(['email', 'verified', 'tokenKey']);

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function isVerified(row: Record<string, unknown>): boolean {
  return row.verified === true || row.verified === 1;
}

function field(name: string, code: string, message: string): BasaltError {
  return new BasaltError('validation_failed', { data: { [name]: { code, message } } });
}

/** The parsed `auth-with-oauth2` body. */
interface SignInBody {
  provider: string;
  code: string;
  codeVerifier?: string;
  redirectURL: string;
  state?: string;
  iss?: string;
  createData: Record<string, unknown>;
  mfaId?: unknown;
}

/** A redirect URL a flow can use: absolute, a web or app scheme, no fragment (RFC 6749 §3.1.2), no query. */
export function checkRedirectURL(v: unknown, name = 'redirectURL'): string {
  if (typeof v !== 'string' || v === '') throw field(name, 'validation_required', 'Cannot be blank.');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw field(name, 'validation_invalid_redirect_url', 'Must be an absolute URL.');
  }
  if (v.length > 2000 || /^(javascript|data|file|blob|vbscript):$/i.test(u.protocol)) throw field(name, 'validation_invalid_redirect_url', 'Must be an http(s) or app URL.');
  // openid-client sends the redirect URI as the callback URL without its query, so a query would not
  // match the one of the authorization request; a fragment is never allowed.
  if (u.hash || u.search || v.includes('#') || v.includes('?')) throw field(name, 'validation_invalid_redirect_url', 'Must have no query string and no fragment.');
  return v;
}

function parseBody(body: unknown): SignInBody {
  const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const problems: Record<string, { code: string; message: string }> = {};
  const text = (name: string, max: number, required: boolean): string | undefined => {
    const v = b[name];
    if (v === undefined || v === null || v === '') {
      if (required) problems[name] = { code: 'validation_required', message: 'Cannot be blank.' };
      return undefined;
    }
    if (typeof v !== 'string' || v.length > max) {
      problems[name] = { code: 'validation_invalid_value', message: `Must be a string of at most ${max} characters.` };
      return undefined;
    }
    return v;
  };
  const provider = text('provider', 40, true);
  const code = text('code', 4096, true);
  const codeVerifier = text('codeVerifier', 128, false);
  if (codeVerifier !== undefined && !VERIFIER.test(codeVerifier)) problems.codeVerifier = { code: 'validation_invalid_value', message: 'Must be a PKCE code verifier (43–128 characters).' };
  const state = text('state', 512, false);
  const iss = text('iss', 2000, false);
  // PocketBase's older SDKs send `redirectUrl`.
  const redirectKey = b.redirectURL === undefined && b.redirectUrl !== undefined ? 'redirectUrl' : 'redirectURL';
  let redirectURL: string | undefined;
  try {
    redirectURL = checkRedirectURL(b[redirectKey], redirectKey);
  } catch (e) {
    if (!isBasaltError(e)) throw e;
    Object.assign(problems, e.data);
  }
  let createData: unknown = b.createData ?? {};
  if (typeof createData === 'string') {
    try {
      createData = JSON.parse(createData);
    } catch {
      createData = null;
    }
  }
  if (typeof createData !== 'object' || createData === null || Array.isArray(createData)) problems.createData = { code: 'validation_invalid_value', message: 'Must be an object.' };
  if (!problems.codeVerifier && state === undefined && codeVerifier === undefined) problems.codeVerifier = { code: 'validation_required', message: 'Give the codeVerifier (or the state) of the flow from auth-methods.' };
  if (Object.keys(problems).length) throw new BasaltError('validation_failed', { data: problems });
  return { provider: provider!, code: code!, codeVerifier, redirectURL: redirectURL!, state, iss, createData: createData as Record<string, unknown>, mfaId: b.mfaId };
}

/** OAuth2 sign-in. */
export class OAuthService {
  readonly flows: OAuthFlows;
  readonly identities: OAuthIdentities;
  readonly providers = new ProviderResolver();
  readonly #clientSecrets: OAuthClientSecrets;

  /**
   * The provider's options with its client secret, which is kept sealed outside the definition (a
   * definition stored before that still carries it in place, until the collection is next saved).
   */
  async #withSecret(collectionId: string, p: OAuthProviderOptions): Promise<OAuthProviderOptions> {
    return p.clientSecret ? p : { ...p, clientSecret: await this.#clientSecrets.get(collectionId, p.name) };
  }
  readonly #db: Database;
  readonly #records: RecordsService;
  readonly #auth: AuthService;
  readonly #warn: (msg: string, err: unknown) => void;

  constructor(deps: { db: Database; records: RecordsService; auth: AuthService; secrets: SecretBox; warn?: (msg: string, err: unknown) => void }) {
    this.#db = deps.db;
    this.#records = deps.records;
    this.#auth = deps.auth;
    this.#warn = deps.warn ?? (() => {});
    this.flows = new OAuthFlows(deps.db);
    this.identities = new OAuthIdentities(deps.db, deps.secrets);
    this.#clientSecrets = new OAuthClientSecrets(deps.db, deps.secrets);
    // Identities go with their record.
    deps.records.hooks.on('delete', '*', async (e, next) => {
      await next();
      if (e.collection.type === 'auth') await this.identities.unlinkAll(e.tx, e.collection.id, String(e.record.id ?? e.original?.id ?? ''));
    }, { id: 'oauth-identities-delete', priority: 900 });
    // An account that becomes verified has just been proven by the address's owner; identities linked
    // while it was unverified may be a squatter's (GHSA-pq7p-mc74-g65w), so they go.
    deps.records.hooks.on('update', '*', async (e, next) => {
      await next();
      if (e.collection.type !== 'auth' || !e.original || isVerified(e.original) || !('verified' in e.record) || !isVerified(e.record)) return;
      await this.identities.unlinkUnverified(e.tx, e.collection.id, String(e.original.id));
    }, { id: 'oauth-identities-verified', priority: 900 });
  }

  /**
   * The `oauth2` member of `auth-methods`: a new flow for each provider (PocketBase's shape). A provider
   * whose discovery fails is left out (and logged), so password sign-in keeps working.
   * `redirectURL` (Basalt): pin the flow to this redirect URI; the authURL is then complete.
   */
  async authMethods(c: Collection, redirectURL?: string): Promise<{ enabled: boolean; providers: AuthMethodsProvider[] }> {
    const o = authOptions(c).oauth2;
    if (!o.enabled || o.providers.length === 0) return { enabled: o.enabled, providers: [] };
    if (redirectURL !== undefined) checkRedirectURL(redirectURL);
    await this.flows.sweep();
    // Resolved together: a first call waits for the slowest discovery, not for their sum.
    const resolved = await Promise.all(o.providers.map(async (p) => this.providers.resolve(c.id, await this.#withSecret(c.id, p)).catch((e: unknown) => {
      this.#warn(`oauth2 provider "${p.name}" of ${c.name} is unavailable`, e);
      return undefined;
    })));
    const providers: AuthMethodsProvider[] = [];
    for (const [i, p] of o.providers.entries()) {
      const provider = resolved[i];
      if (!provider) continue;
      const flow = await this.flows.start(c.id, p.name, redirectURL ?? '');
      providers.push({
        name: p.name,
        displayName: provider.displayName,
        state: flow.state,
        authURL: provider.authorizationUrl({ state: flow.state, nonce: flow.nonce, codeChallenge: flow.codeChallenge, redirectURL }),
        codeVerifier: flow.codeVerifier,
        codeChallenge: flow.codeChallenge,
        codeChallengeMethod: 'S256',
      });
    }
    return { enabled: true, providers };
  }

  /**
   * `auth-with-oauth2`. Refusals that happen after the provider answered (linking refused, identity
   * taken) are thrown as {@link OAuthRefusal} so the route can audit them with their target.
   */
  async signIn(input: OAuthSignInInput): Promise<OAuthSignIn> {
    const c = this.#auth.authCollection(input.collection);
    const options = authOptions(c).oauth2;
    if (!options.enabled) throw new BasaltError('oauth_disabled');
    const body = parseBody(input.body);
    const p = options.providers.find((x) => x.name === body.provider);
    if (!p) throw new BasaltError('oauth_provider_unknown', { data: { provider: { code: 'validation_invalid_provider', message: `Provider with name "${body.provider}" is missing or is not enabled.` } } });
    const provider = await this.providers.resolve(c.id, await this.#withSecret(c.id, p));
    if (provider.pkce && body.codeVerifier === undefined) throw field('codeVerifier', 'validation_required', 'This provider uses PKCE: give the codeVerifier from auth-methods.');

    // Single use: the flow leaves the store before anything is checked or exchanged.
    const flow = await this.flows.consume(body.state !== undefined ? { state: body.state } : { codeVerifier: body.codeVerifier! });
    if (!flow || flow.collectionId !== c.id || flow.provider !== p.name) throw new BasaltError('oauth_state_invalid');
    if (body.codeVerifier !== undefined && s256(body.codeVerifier) !== flow.challenge) throw new BasaltError('oauth_state_invalid');
    if (flow.redirectURL && flow.redirectURL !== body.redirectURL) throw new BasaltError('oauth_redirect_mismatch');

    const exchanged = await provider.exchange({ code: body.code, redirectURL: body.redirectURL, codeVerifier: body.codeVerifier, nonce: flow.nonce, state: body.state, iss: body.iss });
    return this.#complete(c, p, exchanged, body, input);
  }

  async #complete(c: Collection, p: OAuthProviderOptions, x: ExchangeResult, body: SignInBody, input: OAuthSignInInput): Promise<OAuthSignIn> {
    const user = x.user;
    const tokens = { accessToken: x.accessToken, refreshToken: x.refreshToken, expiresAt: x.expiresAt };
    const target = `${c.name}:${p.name}:${user.id}`;
    const refuse = (code: 'oauth_link_refused' | 'oauth_identity_taken' | 'auth_failed' | 'oauth_email_missing' | 'reauthentication_required', data: Record<string, unknown> = {}, message?: string): never => {
      throw new OAuthRefusal(new BasaltError(code, { data, ...(message ? { message } : {}) }), target, p.name);
    };
    const signedIn = this.#signedInId(c, input.principal);

    let identity: Identity | undefined = await this.identities.find(c.id, p.name, user.id);
    let row = identity ? await this.#records.findRawBy(c.name, 'id', identity.recordId) : undefined;
    if (identity && !row) {
      await this.identities.drop(identity.id); // its record is gone (e.g. the collection was recreated)
      identity = undefined;
    }
    let isNew = false;
    let linked: OAuthSignIn['linked'];

    if (identity && row) {
      if (signedIn !== undefined && signedIn !== String(row.id)) refuse('oauth_identity_taken');
      await this.identities.updateTokens(identity.id, user.email, user.emailVerified, tokens);
    } else if (signedIn !== undefined) {
      row = await this.#records.findRawBy(c.name, 'id', signedIn);
      if (!row) throw new BasaltError('unauthorized');
      if (!(await this.#auth.signedInRecently(input.principal, input.recentSignInMs))) {
        refuse('reauthentication_required', {}, 'Sign in again (within the last few minutes) to link a provider account.');
      }
      row = await this.#linkExplicit(c, p.name, row, user, tokens, refuse);
      linked = 'explicit';
    } else if (user.email && (row = await this.#findByEmail(c, user.email))) {
      // The advisory rule: never sign into, or attach to, an account that is not proven to belong to the
      // person the provider vouches for.
      if (!user.emailVerified) refuse('oauth_link_refused', { reason: 'provider_email_unverified' });
      if (!isVerified(row)) refuse('oauth_link_refused', { reason: 'account_unverified' });
      try {
        await this.identities.link(this.#db, { collectionId: c.id, recordId: String(row.id), provider: p.name, subject: user.id, email: user.email, emailVerified: true, linkedUnverified: false }, tokens);
        linked = 'auto';
      } catch (e) {
        if (!this.#db.dialect.isUniqueViolation(e)) throw e;
        // A concurrent first sign-in of the same person linked it a moment ago: this is a sign-in now.
        const now = await this.identities.find(c.id, p.name, user.id);
        if (now?.recordId !== String(row.id)) refuse('oauth_identity_taken', {}, 'This account is already linked to another account of this provider.');
      }
    } else {
      if (c.name === '_superusers') refuse('auth_failed', {}, 'Superusers cannot sign up with OAuth2.');
      if (!user.email) refuse('oauth_email_missing');
      await input.beforeSignUp?.();
      try {
        row = await this.#create(c, p, user, body.createData, tokens);
        isNew = true;
      } catch (e) {
        // Two first sign-ins of the same person at once: the other one created the account and linked it.
        const again = await this.identities.find(c.id, p.name, user.id);
        const other = again ? await this.#records.findRawBy(c.name, 'id', again.recordId) : undefined;
        if (!other) {
          // The identity's unique key was taken by a link we cannot see (a raw insert error, never a 500).
          if (this.#db.dialect.isUniqueViolation(e)) refuse('oauth_identity_taken', {}, 'This provider account was linked by a concurrent sign-in; try again.');
          throw e;
        }
        row = other;
      }
    }

    const fresh = (await this.#records.findRawBy(c.name, 'id', String(row!.id))) ?? row!;
    const result = await this.#auth.signIn(c, fresh, ['fed'], input.client, { mfaId: body.mfaId });
    const meta: OAuthMeta = { id: user.id, name: user.name, username: user.username, email: user.email, avatarURL: user.avatarURL, isNew, rawUser: user.rawUser };
    return { result: { ...result, meta }, collection: c, recordId: String(fresh.id), provider: p.name, isNew, ...(linked ? { linked } : {}) };
  }

  /** The signed-in record of this collection (a superuser for `_superusers`), if the caller is one. */
  #signedInId(c: Collection, p: Principal): string | undefined {
    if (p.kind === 'record' && p.collection === c.name) return String(p.record.id);
    if (p.kind === 'superuser' && c.name === '_superusers' && typeof p.record.id === 'string' && p.record.id !== 'system') return p.record.id;
    return undefined;
  }

  /**
   * A signed-in record links a provider account to itself. When the provider vouches for exactly the
   * record's own email, that also proves the address: the record becomes verified (which drops any
   * identity a squatter linked while it was unverified), and — as for an OTP sign-in — the password set
   * while it was unverified is replaced by one nobody knows and every session ends, before the sign-in
   * issues the caller a new one (the owner sets a password with a reset).
   */
  async #linkExplicit(c: Collection, provider: string, row: Record<string, unknown>, user: OAuthUser, tokens: { accessToken: string; refreshToken: string; expiresAt?: number }, refuse: (code: 'oauth_identity_taken', data?: Record<string, unknown>, message?: string) => never): Promise<Record<string, unknown>> {
    const proves = !isVerified(row) && user.emailVerified && typeof row.email === 'string' && row.email.toLowerCase() === user.email.toLowerCase();
    try {
      await this.#records.transaction(async (tx) => {
        if (proves) {
          const pw = unknownPassword();
          await this.#records.update({ principal: SYSTEM, request: emptyRequest() }, c.name, String(row.id), { verified: true, password: pw, passwordConfirm: pw }, {}, tx);
        }
        await this.identities.link(tx, { collectionId: c.id, recordId: String(row.id), provider, subject: user.id, email: user.email, emailVerified: user.emailVerified, linkedUnverified: !(proves || isVerified(row)) }, tokens);
      });
    } catch (e) {
      if (this.#db.dialect.isUniqueViolation(e)) refuse('oauth_identity_taken', {}, 'This account is already linked to another account of this provider.');
      throw e;
    }
    // The new password rotated the tokenKey (every token is dead); the sessions end with it.
    if (proves) await this.#auth.logout(c.name === '_superusers' ? { kind: 'superuser', record: { id: row.id } } : { kind: 'record', collection: c.name, record: { id: row.id } }, undefined, true);
    return row;
  }

  async #findByEmail(c: Collection, email: string): Promise<Record<string, unknown> | undefined> {
    // The lookup ignores case (schema/auth-email-index.ts).
    return this.#records.findRawBy(c.name, 'email', email);
  }

  /**
   * Create the account through the records service, as an anonymous sign-up (the create rule applies,
   * with `@request.context = "oauth2"`), then mark it verified when the provider vouches for the email,
   * and link the identity — one transaction.
   */
  async #create(c: Collection, p: OAuthProviderOptions, user: OAuthUser, createData: Record<string, unknown>, tokens: { accessToken: string; refreshToken: string; expiresAt?: number }): Promise<Record<string, unknown>> {
    const payload: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(createData)) if (!PROVIDER_DECIDED.has(k)) payload[k] = v;
    payload.email = user.email;
    const given = (v: unknown) => v !== undefined && v !== null && v !== '';
    if (!user.emailVerified && (given(payload.password) || given(payload.passwordConfirm))) {
      // An unverified address with a password of the caller's choosing is an email squat in waiting:
      // the account's first verification would hand it, password and all, to the address's owner.
      throw new BasaltError('validation_failed', { data: { password: { code: 'validation_oauth_email_unverified', message: 'A password can be set at sign-up only when the provider verified the email address; set one later with a password reset.' } } });
    }
    if (typeof payload.password !== 'string' || payload.password === '') {
      // A password nobody knows: the account signs in with the provider (or a password reset).
      payload.password = unknownPassword();
      payload.passwordConfirm = payload.password;
    }
    const values: Record<string, string> = { id: user.id, name: user.name, username: user.username, avatarURL: user.avatarURL, email: user.email };
    const mapped: string[] = [];
    for (const [key, fieldName] of Object.entries(authOptions(c).oauth2.mappedFields)) {
      const f = c.fields.find((x) => x.name === fieldName);
      const v = Object.hasOwn(values, key) ? values[key] : '';
      if (!f || f.system || v === '' || Object.hasOwn(payload, fieldName) || (f.type !== 'text' && f.type !== 'url')) continue;
      payload[fieldName] = v;
      mapped.push(fieldName);
    }
    const create = async (data: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const ctx: CallContext = { principal: ANONYMOUS, request: { ...emptyRequest(), method: 'POST', body: data, context: 'oauth2' } };
      return this.#records.transaction(async (tx) => {
        const created = (await this.#records.create(ctx, c.name, data, {}, tx)) as Record<string, unknown>;
        const id = String(created.id);
        if (user.emailVerified) await this.#records.update({ principal: SYSTEM, request: emptyRequest() }, c.name, id, { verified: true }, {}, tx);
        await this.identities.link(tx, { collectionId: c.id, recordId: id, provider: p.name, subject: user.id, email: user.email, emailVerified: user.emailVerified, linkedUnverified: !user.emailVerified }, tokens);
        return { id };
      });
    };
    try {
      return await create(payload);
    } catch (e) {
      // A mapped profile value the collection rejects (a taken username, too long a name) must not
      // block the sign-up: try once more without the mapped values that failed.
      const bad = isBasaltError(e) && e.code === 'validation_failed' ? mapped.filter((f) => Object.hasOwn(e.data, f)) : [];
      if (!bad.length) throw e;
      for (const f of bad) delete payload[f];
      return create(payload);
    }
  }

  /** The identities linked to the caller's own record. */
  async listIdentities(c: Collection, principal: Principal): Promise<IdentityInfo[]> {
    const id = this.#signedInId(c, principal);
    if (id === undefined) throw new BasaltError(principal.kind === 'anonymous' ? 'unauthorized' : 'forbidden');
    return (await this.identities.ofRecord(c.id, id)).map((i) => ({ id: i.id, provider: i.provider, providerId: i.subject, email: i.email, created: i.created, updated: i.updated }));
  }

  /** Unlink one of the caller's identities. */
  async unlinkIdentity(c: Collection, principal: Principal, identityId: string): Promise<void> {
    const id = this.#signedInId(c, principal);
    if (id === undefined) throw new BasaltError(principal.kind === 'anonymous' ? 'unauthorized' : 'forbidden');
    if (!(await this.identities.unlink(c.id, id, identityId))) throw new BasaltError('not_found', { message: 'No such linked identity.' });
  }
}
