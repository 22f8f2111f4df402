/**
 * Signing keys for access tokens: an ES256 key pair generated on first start and kept in `_params`
 * (so every node of a cluster signs and verifies with the same key). Rotation and JWKS publishing
 * belong to the identity issue; the `kid` is already in every token so rotation can keep old keys.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import type { Database } from '../db/index.ts';

/** The key set tokens are signed and verified with. */
export interface TokenKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const PARAM_KEY = 'auth.signingKey';

/** Load the signing key, creating it on first start (race-safe across nodes: first insert wins). */
export async function loadTokenKeys(db: Database): Promise<TokenKeys> {
  let row = await db.get<{ value: string }>('SELECT value FROM _params WHERE key = ?', [PARAM_KEY]);
  if (!row) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'ES256' };
    await db.run('INSERT INTO _params (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [PARAM_KEY, JSON.stringify(jwk)]);
    row = await db.get<{ value: string }>('SELECT value FROM _params WHERE key = ?', [PARAM_KEY]);
  }
  const jwk = JSON.parse(row!.value) as JWK & { kid: string };
  const { d: _d, ...publicJwk } = jwk;
  return {
    kid: jwk.kid,
    privateKey: (await importJWK(jwk, 'ES256')) as CryptoKey,
    publicKey: (await importJWK(publicJwk, 'ES256')) as CryptoKey,
  };
}
