/**
 * Access tokens: short-lived ES256 JWTs (`jose`), with an algorithm allow-list and `typ`, `iss`,
 * `aud`, `exp` checked (RFC 8725). A token names its record and collection, and carries a hash of the
 * record's `tokenKey`, so changing the password (which rotates tokenKey) ends every older token.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { createHash } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';
import type { Database } from '../db/index.ts';
import { loadTokenKeys, type TokenKeys } from './token-keys.ts';
import type { JWK } from 'jose';

/** Claims Basalt puts in an access token (PocketBase's `id`, `collectionId`, `type`, `refreshable`). */
export interface AccessClaims {
  id: string;
  collectionId: string;
  type: 'auth';
  refreshable: boolean;
  /** Hash of the record's tokenKey at issue time. */
  tkh: string;
  /** The session (refresh-token family) the token belongs to, when issued by a sign-in or refresh. */
  sid?: string;
  /** How the holder signed in (RFC 8176: `pwd`, `otp`, `fed`, `hwk`, `mfa`, …). */
  amr?: string[];
}

const TYP = 'at+jwt';
const AUDIENCE = 'basalt';
/** The longest lifetime any token may have (the bound of both the server TTL and `authToken.duration`): 30 days. */
export const MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
/** Clock skew tolerated between nodes, seconds. */
const SKEW = 30;

/**
 * The lifetime of the tokens of one auth collection, in seconds, or undefined for the server's
 * default (`tokenTtlSeconds`). Called per request: it must be cheap.
 */
export type TokenLifetimes = (collectionId: string) => number | undefined;

/** The `kid` of a compact JWS header, without trusting anything else in it. */
function decodeKid(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 1024) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' && /^[a-f0-9]{16}$/.test(header.kid) ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/** A short, non-reversible fingerprint of a tokenKey. */
export function tokenKeyHash(tokenKey: string): string {
  return createHash('sha256').update(tokenKey).digest('base64url').slice(0, 22);
}

/** Issues and verifies access tokens. */
export class TokenService {
  #keys: TokenKeys;
  readonly #db: Database;
  readonly #issuer: string;
  readonly #ttl: number;
  /** When the key set was last read; an unknown kid triggers a reload at most this often. */
  #loadedAt = Date.now();
  /**
   * Tokens whose signature and claims were verified, until they expire: an ES256 verification costs
   * ~75–190 µs (npm run bench -- --scenario view-auth), and a client sends the same token many times.
   * Keyed by the exact token text, so a hit is the same verification again. Bounded, oldest first out.
   */
  readonly #verified = new Map<string, AccessClaims & { exp: number; iat: number }>();
  /** Per-collection lifetimes (`authToken.duration`); the server TTL where it answers undefined. */
  #lifetimes: TokenLifetimes = () => undefined;

  constructor(db: Database, keys: TokenKeys, issuer: string, ttlSeconds: number) {
    this.#db = db;
    this.#keys = keys;
    this.#issuer = issuer;
    this.#ttl = ttlSeconds;
  }

  /** Use per-collection token lifetimes (the auth service passes the collections' `authToken.duration`). */
  useLifetimes(lifetimes: TokenLifetimes): void {
    this.#lifetimes = lifetimes;
  }

  /** How long tokens of a collection live: its own duration, else the server's TTL. */
  lifetime(collectionId: string): number {
    return Math.min(this.#lifetimes(collectionId) ?? this.#ttl, MAX_TOKEN_LIFETIME_SECONDS);
  }

  /** Re-read the keys (after a rotation here or on another node). */
  async reload(): Promise<void> {
    this.#keys = await loadTokenKeys(this.#db, this.#ttl);
    this.#loadedAt = Date.now();
  }

  /** The public keys that verify tokens, as a JWK set (`/.well-known/jwks.json`). */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.#keys.verifiers.values()].map((k) => k.publicJwk) };
  }

  /** Sign an access token for a record. */
  async issue(record: { id: string; tokenKey: string }, collectionId: string, session?: string, amr: readonly string[] = []): Promise<string> {
    return new SignJWT({ id: record.id, collectionId, type: 'auth', refreshable: true, tkh: tokenKeyHash(record.tokenKey), ...(session ? { sid: session } : {}), ...(amr.length ? { amr: [...amr] } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: this.#keys.active.kid })
      .setSubject(record.id)
      .setIssuer(this.#issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.lifetime(collectionId)}s`)
      .sign(this.#keys.active.privateKey);
  }

  /** Verify a token; `token_invalid` for anything wrong with it. */
  async verify(token: string): Promise<AccessClaims> {
    if (token.length > 4096) throw new BasaltError('token_invalid');
    const known = this.#verified.get(token);
    if (known) {
      // Still within its own expiry, and within its collection's lifetime now (which may have been shortened).
      const now = Date.now();
      if (known.exp * 1000 > now && this.#withinLifetime(known, now)) return known;
      this.#verified.delete(token);
      throw new BasaltError('token_invalid');
    }
    const claims = await this.#verifyFully(token);
    if (this.#verified.size >= 10_000) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, claims);
    return claims;
  }

  /** The token spans no longer than its collection's lifetime, and is younger than it. */
  #withinLifetime(claims: { collectionId: string; exp: number; iat: number }, now: number): boolean {
    const lifetime = this.lifetime(claims.collectionId) + SKEW;
    return claims.exp - claims.iat <= lifetime && (claims.iat + lifetime) * 1000 > now;
  }

  async #verifyFully(token: string): Promise<AccessClaims & { exp: number; iat: number }> {
    try {
      // The key is chosen by kid among our own keys only; a kid we do not know may be a rotation on
      // another node, so the key set is re-read (at most every few seconds) before giving up.
      const kid = decodeKid(token);
      let key = kid ? this.#keys.verifiers.get(kid) : undefined;
      if (!key && kid && Date.now() - this.#loadedAt > 5_000) {
        await this.reload();
        key = this.#keys.verifiers.get(kid);
      }
      if (!key) throw new BasaltError('token_invalid');
      const { payload, protectedHeader } = await jwtVerify(token, key.publicKey, {
        algorithms: ['ES256'],
        issuer: this.#issuer,
        audience: AUDIENCE,
        typ: TYP,
        requiredClaims: ['exp', 'iat', 'sub'],
        // No token issued in the future or older than any token can live; the bound of its own
        // collection is checked below, once the claims are known. 30 s of clock skew is tolerated.
        maxTokenAge: MAX_TOKEN_LIFETIME_SECONDS + SKEW,
        clockTolerance: SKEW,
      });
      if (protectedHeader.kid !== key.kid) throw new BasaltError('token_invalid');
      if (typeof payload.id !== 'string' || typeof payload.collectionId !== 'string' || payload.type !== 'auth' || typeof payload.tkh !== 'string') {
        throw new BasaltError('token_invalid');
      }
      // Living no longer than its collection issues tokens (a token minted with a leaked key and a
      // far-away exp still dies), counted from issue time, so a shortened duration applies at once.
      const claims = payload as unknown as AccessClaims & { exp: number; iat: number };
      if (!this.#withinLifetime(claims, Date.now())) throw new BasaltError('token_invalid');
      return claims;
    } catch (e) {
      if (e instanceof BasaltError) throw e;
      if (e instanceof joseErrors.JOSEError) throw new BasaltError('token_invalid', { cause: e });
      throw new BasaltError('token_invalid', { cause: e });
    }
  }
}
