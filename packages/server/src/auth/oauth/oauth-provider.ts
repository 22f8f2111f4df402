/**
 * Provider resolution and the protocol work, with `openid-client` as the client: a collection's
 * provider options (plus a preset) become a {@link ResolvedProvider} — discovered once per node and
 * cached, with a timeout — that builds authorization URLs, exchanges codes and reads the profile.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { BasaltError } from '../../errors/index.ts';
import type { OAuthProviderOptions } from '../../schema/index.ts';
import { DEFAULT_OIDC_SCOPES, presetOf, type ProfileKind } from './oauth-presets.ts';
import { profileFromDiscord, profileFromGithub, profileFromOAuth2, profileFromOidc, type OAuthUser } from './oauth-profile.ts';

/** Seconds one provider request (discovery, token, userinfo) may take. */
export const PROVIDER_TIMEOUT_SECONDS = 10;
/** How long a discovered configuration is reused before it is fetched again. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/** After a failed discovery, callers get the same failure for this long instead of a new request each. */
const DISCOVERY_RETRY_MS = 15 * 1000;
const MAX_CACHED = 500;

/**
 * True for `http://localhost`, `http://127.0.0.1` and `http://[::1]` (any port): the only plain-HTTP
 * provider URLs Basalt accepts (local development and tests). Everything else must be HTTPS.
 */
export function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname.endsWith('.localhost'));
  } catch {
    return false;
  }
}

/** The tokens of a completed code exchange, and who signed in. */
export interface ExchangeResult {
  user: OAuthUser;
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms since epoch), if the provider said. */
  expiresAt?: number;
}

/** What an authorization URL is made of (all values from the flow). */
export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeChallenge: string;
  /** The redirect URI when the client pinned it; otherwise the URL ends in `redirect_uri=` for the client to complete. */
  redirectURL?: string;
  /** Scopes from the caller (PocketBase's SDK can pass its own); default: the provider's. */
  scopes?: string[];
}

/** What a code exchange needs. */
export interface CodeExchange {
  code: string;
  redirectURL: string;
  codeVerifier?: string;
  /** The flow's nonce (OpenID Connect: the ID token must carry it). */
  nonce: string;
  /** The `state` the client got back, when it sent it (already matched to the flow). */
  state?: string;
  /** The `iss` the client got back in the authorization response (RFC 9207), when it forwards it. */
  iss?: string;
}

/** A provider ready to use: configuration discovered, scopes and profile mapping chosen. */
export class ResolvedProvider {
  readonly name: string;
  readonly displayName: string;
  readonly kind: 'oidc' | 'oauth2';
  readonly profile: ProfileKind;
  readonly scopes: readonly string[];
  readonly pkce: boolean;
  readonly #config: oidc.Configuration;
  readonly #authParams: Readonly<Record<string, string>>;
  readonly #userInfoURL: string;

  constructor(init: { name: string; displayName: string; kind: 'oidc' | 'oauth2'; profile: ProfileKind; scopes: string[]; pkce: boolean; config: oidc.Configuration; authParams: Record<string, string>; userInfoURL: string }) {
    this.name = init.name;
    this.displayName = init.displayName;
    this.kind = init.kind;
    this.profile = init.profile;
    this.scopes = init.scopes;
    this.pkce = init.pkce;
    this.#config = init.config;
    this.#authParams = init.authParams;
    this.#userInfoURL = init.userInfoURL;
  }

  /**
   * The authorization URL, PocketBase's form: every parameter but `redirect_uri`, which comes last and
   * empty, so that a client appends its own redirect URI (`authURL + redirectURL`), as PocketBase's SDK
   * does. With a pinned `redirectURL` the URL is complete.
   */
  authorizationUrl(req: AuthorizationRequest): string {
    const params = new URLSearchParams();
    params.set('client_id', this.#config.clientMetadata().client_id);
    if (this.pkce) {
      params.set('code_challenge', req.codeChallenge);
      params.set('code_challenge_method', 'S256');
    }
    params.set('response_type', 'code');
    params.set('scope', (req.scopes?.length ? req.scopes : this.scopes).join(' '));
    params.set('state', req.state);
    if (this.kind === 'oidc') params.set('nonce', req.nonce);
    for (const [k, v] of Object.entries(this.#authParams)) params.set(k, v);
    const url = oidc.buildAuthorizationUrl(this.#config, params);
    if (req.redirectURL) {
      url.searchParams.append('redirect_uri', req.redirectURL);
      return url.href;
    }
    return `${url.href}&redirect_uri=`;
  }

  /**
   * Exchange the code at the token endpoint (the provider checks the code, the PKCE verifier, and that
   * `redirect_uri` equals the one of the authorization request), validate the ID token (`iss`, `aud`,
   * `exp`, `nonce`, by openid-client) and read the profile. Provider failures become Basalt errors
   * that carry no provider secret.
   */
  async exchange(x: CodeExchange): Promise<ExchangeResult> {
    const current = new URL(x.redirectURL);
    current.search = '';
    current.hash = '';
    current.searchParams.set('code', x.code);
    if (x.state !== undefined) current.searchParams.set('state', x.state);
    const as = this.#config.serverMetadata();
    // RFC 9207: when the provider names itself in authorization responses, openid-client requires `iss`.
    // Clients following PocketBase's API do not forward it; the flow is bound to this provider already
    // (the code only ever goes to this provider's token endpoint), so its own issuer stands in.
    if (as.authorization_response_iss_parameter_supported) current.searchParams.set('iss', x.iss ?? as.issuer);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(this.#config, current, {
        pkceCodeVerifier: this.pkce ? x.codeVerifier : undefined,
        expectedState: x.state,
        expectedNonce: this.kind === 'oidc' ? x.nonce : undefined,
        idTokenExpected: this.kind === 'oidc',
      });
    } catch (e) {
      throw providerError(e, this.name);
    }
    const accessToken = tokens.access_token;
    let user: OAuthUser;
    try {
      user = await this.#profile(tokens);
    } catch (e) {
      throw providerError(e, this.name);
    }
    if (!user.id) throw new BasaltError('oauth_provider_error', { message: `The ${this.name} provider answered no user id.` });
    const expiresIn = tokens.expiresIn();
    return { user, accessToken, refreshToken: tokens.refresh_token ?? '', ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) };
  }

  async #profile(tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>): Promise<OAuthUser> {
    const accessToken = tokens.access_token;
    if (this.kind === 'oidc') {
      const claims = tokens.claims();
      if (!claims) throw new BasaltError('oauth_id_token_invalid');
      // Providers (and OpenID Connect's default) often keep email and profile claims out of the ID
      // token; userinfo has them, for the same subject (openid-client checks `sub`).
      const userinfo = this.#config.serverMetadata().userinfo_endpoint
        ? ((await oidc.fetchUserInfo(this.#config, accessToken, claims.sub)) as Record<string, unknown>)
        : undefined;
      return profileFromOidc(claims as Record<string, unknown>, userinfo, this.profile);
    }
    const user = await this.#getJson(accessToken, this.#userInfoURL);
    if (typeof user !== 'object' || user === null || Array.isArray(user)) throw new BasaltError('oauth_provider_error', { message: `The ${this.name} provider answered an unexpected profile.` });
    const profile = user as Record<string, unknown>;
    switch (this.profile) {
      case 'github': {
        // `/user/emails` beside `/user` (also on GitHub Enterprise, under its API prefix).
        const emails = await this.#getJson(accessToken, `${this.#userInfoURL.replace(/\/+$/, '')}/emails`).catch(() => []);
        return profileFromGithub(profile, emails);
      }
      case 'discord':
        return profileFromDiscord(profile);
      default:
        return profileFromOAuth2(profile);
    }
  }

  async #getJson(accessToken: string, url: string): Promise<unknown> {
    const res = await oidc.fetchProtectedResource(this.#config, accessToken, new URL(url), 'GET', undefined, new Headers({ accept: 'application/json' }));
    if (!res.ok) throw new BasaltError('oauth_provider_error', { message: `The ${this.name} provider answered HTTP ${res.status} for the profile.` });
    return res.json();
  }
}

/**
 * Map openid-client failures to Basalt errors. The provider's `error` code is kept in `data` (it is
 * protocol vocabulary, never a secret); descriptions and bodies stay in the log cause only.
 */
function providerError(e: unknown, name: string): BasaltError {
  if (e instanceof BasaltError) return e;
  if (e instanceof oidc.ResponseBodyError) {
    // invalid_grant: the code is unknown, expired, used, issued to another client, or its redirect_uri
    // or PKCE verifier does not match (RFC 6749 §5.2); the provider does not say which.
    if (e.error === 'invalid_grant') return new BasaltError('oauth_code_invalid', { data: { provider: name, error: e.error }, cause: e });
    return new BasaltError('oauth_provider_error', { message: `The ${name} provider refused the request (${e.error}).`, data: { provider: name, error: e.error }, cause: e });
  }
  if (e instanceof oidc.AuthorizationResponseError) return new BasaltError('oauth_code_invalid', { data: { provider: name, error: e.error }, cause: e });
  if (e instanceof oidc.ClientError) {
    // ID token (and authorization response) checks: nonce, iss, aud, exp, iat, azp, state, iss parameter.
    if (e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || e.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || e.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
      return new BasaltError('oauth_id_token_invalid', { data: { provider: name }, cause: e });
    }
  }
  return new BasaltError('oauth_provider_error', { message: `The ${name} provider could not be reached or answered unexpectedly.`, data: { provider: name }, cause: e });
}

/** A provider's options with its preset applied (blanks filled, PKCE decided): what resolution works from. */
interface ProviderPlan extends Omit<OAuthProviderOptions, 'pkce'> {
  kind: 'oidc' | 'oauth2';
  profile: ProfileKind;
  pkce: boolean;
  authParams: Record<string, string>;
}

/** Fill a provider's blanks from its preset; `oauth_provider_error` when it is not usable. */
export function planProvider(p: OAuthProviderOptions): ProviderPlan {
  const preset = presetOf(p.name);
  // A collection that sets its own endpoints for a preset name means them: its URLs replace the
  // preset's as a whole (an OIDC discovery URL wins over plain endpoints).
  const ownOidc = p.discoveryUrl !== '';
  const ownOAuth2 = !ownOidc && p.authURL !== '' && p.tokenURL !== '';
  const discoveryUrl = ownOidc ? p.discoveryUrl : ownOAuth2 ? '' : preset?.discoveryUrl ?? '';
  const authURL = ownOAuth2 ? p.authURL : ownOidc ? '' : preset?.authURL ?? p.authURL;
  const tokenURL = ownOAuth2 ? p.tokenURL : ownOidc ? '' : preset?.tokenURL ?? p.tokenURL;
  const userInfoURL = ownOAuth2 ? p.userInfoURL : ownOidc ? '' : preset?.userInfoURL ?? p.userInfoURL;
  const kind = discoveryUrl ? 'oidc' : 'oauth2';
  if (kind === 'oauth2' && (!authURL || !tokenURL || !userInfoURL)) {
    throw new BasaltError('oauth_provider_error', { message: `The provider "${p.name}" needs a discoveryUrl (OpenID Connect) or authURL, tokenURL and userInfoURL.` });
  }
  let profile: ProfileKind = preset?.profile ?? (kind === 'oidc' ? 'oidc' : 'oauth2');
  // A preset's profile reader follows its protocol: an OIDC preset given plain endpoints reads them the
  // generic way; a plain preset with its own endpoints (GitHub Enterprise) keeps its API's reader.
  if (kind === 'oidc' && profile !== 'oidc-unverified-email') profile = 'oidc';
  if (kind === 'oauth2' && (profile === 'oidc' || profile === 'oidc-unverified-email')) profile = 'oauth2';
  const base = preset?.scopes ?? (kind === 'oidc' ? DEFAULT_OIDC_SCOPES : []);
  return {
    name: p.name,
    displayName: p.displayName || preset?.displayName || p.name,
    kind,
    profile,
    clientId: p.clientId,
    clientSecret: p.clientSecret,
    discoveryUrl,
    authURL,
    tokenURL,
    userInfoURL,
    scopes: [...new Set([...base, ...p.scopes])],
    pkce: p.pkce !== false,
    authParams: { ...(preset?.authParams ?? {}) },
  };
}

/** Client authentication at the token endpoint: a secret by POST body unless the provider only takes Basic. */
function clientAuth(secret: string, supported: readonly string[] | undefined): oidc.ClientAuth {
  if (!secret) return oidc.None();
  if (supported && !supported.includes('client_secret_post') && supported.includes('client_secret_basic')) return oidc.ClientSecretBasic(secret);
  return oidc.ClientSecretPost(secret);
}

async function configure(plan: ProviderPlan): Promise<oidc.Configuration> {
  if (plan.kind === 'oidc') {
    const insecure = isLoopbackHttp(plan.discoveryUrl);
    // Discover first (no client yet) so the client authentication method can follow the metadata.
    const probe = await oidc.discovery(new URL(plan.discoveryUrl), plan.clientId, undefined, oidc.None(), {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      // Plain HTTP only for a loopback discovery URL (local development, tests); never otherwise.
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
    const as = probe.serverMetadata();
    const config = new oidc.Configuration(as, plan.clientId, plan.clientSecret || undefined, clientAuth(plan.clientSecret, as.token_endpoint_auth_methods_supported));
    config.timeout = PROVIDER_TIMEOUT_SECONDS;
    if (insecure) oidc.allowInsecureRequests(config);
    return config;
  }
  const urls = [plan.authURL, plan.tokenURL, plan.userInfoURL];
  for (const u of urls) {
    if (!u.startsWith('https://') && !isLoopbackHttp(u)) throw new BasaltError('oauth_provider_error', { message: `The provider "${plan.name}" URLs must be https (plain http only on localhost).` });
  }
  const as: oidc.ServerMetadata = {
    // Plain OAuth 2.0 has no issuer identifier; the authorization server's origin names it.
    issuer: new URL(plan.tokenURL).origin,
    authorization_endpoint: plan.authURL,
    token_endpoint: plan.tokenURL,
  };
  const config = new oidc.Configuration(as, plan.clientId, plan.clientSecret || undefined, clientAuth(plan.clientSecret, undefined));
  config.timeout = PROVIDER_TIMEOUT_SECONDS;
  if (urls.every(isLoopbackHttp)) oidc.allowInsecureRequests(config);
  return config;
}

interface CacheEntry {
  at: number;
  pending?: Promise<oidc.Configuration>;
  config?: oidc.Configuration;
  error?: BasaltError;
}

/**
 * Resolves providers, caching each discovered configuration on this node (keyed by the provider's
 * full options, so a changed client id, secret or URL is a new entry).
 */
export class ProviderResolver {
  readonly #cache = new Map<string, CacheEntry>();

  /** The provider ready to use; `oauth_provider_error` when its discovery fails. */
  async resolve(collectionId: string, p: OAuthProviderOptions): Promise<ResolvedProvider> {
    const plan = planProvider(p);
    const key = createHash('sha256').update(JSON.stringify([collectionId, plan])).digest('base64url');
    const now = Date.now();
    let entry = this.#cache.get(key);
    if (entry && (entry.error ? now - entry.at > DISCOVERY_RETRY_MS : now - entry.at > DISCOVERY_TTL_MS)) entry = undefined;
    if (!entry) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
      const fresh: CacheEntry = { at: now };
      fresh.pending = configure(plan).then(
        (config) => {
          fresh.config = config;
          fresh.pending = undefined;
          return config;
        },
        (e: unknown) => {
          fresh.error = e instanceof BasaltError ? e : new BasaltError('oauth_provider_error', { message: `The ${plan.name} provider's configuration could not be discovered.`, data: { provider: plan.name }, cause: e });
          fresh.pending = undefined;
          fresh.at = Date.now();
          throw fresh.error;
        },
      );
      this.#cache.set(key, fresh);
      entry = fresh;
    }
    if (entry.error) throw entry.error;
    const config = entry.config ?? (await entry.pending!);
    return new ResolvedProvider({ name: plan.name, displayName: plan.displayName, kind: plan.kind, profile: plan.profile, scopes: plan.scopes, pkce: plan.pkce, config, authParams: plan.authParams, userInfoURL: plan.userInfoURL });
  }

  /** Forget every cached configuration (tests, key rotation at a provider). */
  clear(): void {
    this.#cache.clear();
  }
}
