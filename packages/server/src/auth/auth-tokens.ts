/**
 * Access tokens: short-lived ES256 JWTs (`jose`), with an algorithm allow-list and `typ`, `iss`,
 * `aud`, `exp` checked (RFC 8725). A token names its record and collection, and carries a hash of the
 * record's `tokenKey`, so changing the password (which rotates tokenKey) ends every older token.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { createHash } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';
import type { TokenKeys } from './token-keys.ts';

/** Claims Basalt puts in an access token (PocketBase's `id`, `collectionId`, `type`, `refreshable`). */
export interface AccessClaims {
  id: string;
  collectionId: string;
  type: 'auth';
  refreshable: boolean;
  /** Hash of the record's tokenKey at issue time. */
  tkh: string;
}

const TYP = 'at+jwt';
const AUDIENCE = 'basalt';

/** A short, non-reversible fingerprint of a tokenKey. */
export function tokenKeyHash(tokenKey: string): string {
  return createHash('sha256').update(tokenKey).digest('base64url').slice(0, 22);
}

/** Issues and verifies access tokens. */
export class TokenService {
  readonly #keys: TokenKeys;
  readonly #issuer: string;
  readonly #ttl: number;

  constructor(keys: TokenKeys, issuer: string, ttlSeconds: number) {
    this.#keys = keys;
    this.#issuer = issuer;
    this.#ttl = ttlSeconds;
  }

  /** Sign an access token for a record. */
  async issue(record: { id: string; tokenKey: string }, collectionId: string): Promise<string> {
    return new SignJWT({ id: record.id, collectionId, type: 'auth', refreshable: true, tkh: tokenKeyHash(record.tokenKey) })
      .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: this.#keys.kid })
      .setSubject(record.id)
      .setIssuer(this.#issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttl}s`)
      .sign(this.#keys.privateKey);
  }

  /** Verify a token; `token_invalid` for anything wrong with it. */
  async verify(token: string): Promise<AccessClaims> {
    if (token.length > 4096) throw new BasaltError('token_invalid');
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.#keys.publicKey, {
        algorithms: ['ES256'],
        issuer: this.#issuer,
        audience: AUDIENCE,
        typ: TYP,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      if (protectedHeader.kid !== this.#keys.kid) throw new BasaltError('token_invalid');
      if (typeof payload.id !== 'string' || typeof payload.collectionId !== 'string' || payload.type !== 'auth' || typeof payload.tkh !== 'string') {
        throw new BasaltError('token_invalid');
      }
      return payload as unknown as AccessClaims;
    } catch (e) {
      if (e instanceof BasaltError) throw e;
      if (e instanceof joseErrors.JOSEError) throw new BasaltError('token_invalid', { cause: e });
      throw new BasaltError('token_invalid', { cause: e });
    }
  }
}
