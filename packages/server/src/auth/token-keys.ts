/**
 * Signing keys for access tokens: ES256 key pairs kept in `_params`, so every node of a cluster signs
 * and verifies with the same keys. The newest key signs; keys retired by a rotation keep verifying until
 * every token they signed has expired, then they are dropped. Public keys are published as a JWK set.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import { formatTimestamp } from '../tools/index.ts';
import type { Database } from '../db/index.ts';

/** One stored key. */
interface StoredKey {
  kid: string;
  /** Private JWK (with `d`). */
  jwk: JWK;
  created: string;
  /** When a newer key took over signing; empty while active. */
  retired: string;
}

/** A key ready for use. */
export interface TokenKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK, for the JWK set. */
  publicJwk: JWK;
}

/** The signing key and every key that may still verify. */
export interface TokenKeys {
  active: TokenKey;
  /** By kid: the active key and retired keys whose tokens may not have expired yet. */
  verifiers: Map<string, TokenKey>;
}

const PARAM_KEYS = 'auth.signingKeys';
/** The single-key format of Basalt 0.1's first commits, read once and converted. */
const LEGACY_PARAM = 'auth.signingKey';

async function newStoredKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  return { kid, jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' }, created: formatTimestamp(), retired: '' };
}

async function toTokenKey(k: StoredKey): Promise<TokenKey> {
  const { d: _d, ...pub } = k.jwk;
  const publicJwk: JWK = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid: k.kid, alg: 'ES256', use: 'sig' };
  return {
    kid: k.kid,
    privateKey: (await importJWK(k.jwk, 'ES256')) as CryptoKey,
    publicKey: (await importJWK(publicJwk, 'ES256')) as CryptoKey,
    publicJwk,
  };
}

async function readStored(db: Pick<Database, 'get'>): Promise<StoredKey[] | undefined> {
  const row = await db.get<{ value: string }>('SELECT value FROM _params WHERE key = ?', [PARAM_KEYS]);
  return row ? (JSON.parse(row.value) as StoredKey[]) : undefined;
}

/** Keys still useful: the active one, and retired ones younger than the longest token lifetime. */
function live(keys: StoredKey[], tokenTtlSeconds: number, now = Date.now()): StoredKey[] {
  return keys.filter((k) => !k.retired || now - new Date(k.retired.replace(' ', 'T')).getTime() <= tokenTtlSeconds * 1000);
}

/**
 * Load the keys, creating the first one on first start (race-safe across nodes: the first insert
 * wins, everyone reads it back).
 */
export async function loadTokenKeys(db: Database, tokenTtlSeconds: number): Promise<TokenKeys> {
  let stored = await readStored(db);
  if (!stored) {
    const legacy = await db.get<{ value: string }>('SELECT value FROM _params WHERE key = ?', [LEGACY_PARAM]);
    const first: StoredKey = legacy
      ? (() => { const jwk = JSON.parse(legacy.value) as JWK & { kid: string }; return { kid: jwk.kid, jwk, created: formatTimestamp(), retired: '' }; })()
      : await newStoredKey();
    await db.run('INSERT INTO _params (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [PARAM_KEYS, JSON.stringify([first])]);
    stored = (await readStored(db))!;
  }
  const usable = live(stored, tokenTtlSeconds);
  const activeStored = usable.find((k) => !k.retired) ?? usable[usable.length - 1];
  const verifiers = new Map<string, TokenKey>();
  for (const k of usable) verifiers.set(k.kid, await toTokenKey(k));
  return { active: verifiers.get(activeStored.kid)!, verifiers };
}

/**
 * Rotate: a new key signs from now on; the previous one is retired and keeps verifying for one token
 * lifetime. Keys past that are dropped. Answers the new kid.
 */
export async function rotateTokenKeys(db: Database, tokenTtlSeconds: number): Promise<string> {
  await loadTokenKeys(db, tokenTtlSeconds); // make sure the key list exists
  const fresh = await newStoredKey();
  await db.transaction(async (tx) => {
    if (db.dialect.bootstrapLock) await tx.get(db.dialect.bootstrapLock);
    const row = await tx.get<{ value: string }>(`SELECT value FROM _params WHERE key = ?${db.dialect.rowLockSuffix}`, [PARAM_KEYS]);
    const now = formatTimestamp();
    const keys = (JSON.parse(row!.value) as StoredKey[]).map((k) => (k.retired ? k : { ...k, retired: now }));
    await tx.run('UPDATE _params SET value = ? WHERE key = ?', [JSON.stringify([...live(keys, tokenTtlSeconds), fresh]), PARAM_KEYS]);
  });
  return fresh.kid;
}
