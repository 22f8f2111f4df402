/**
 * Envelope encryption for values at rest (AES-256-GCM): each value gets its own random data key,
 * which encrypts the value; a master key from configuration wraps the data key. The caller's
 * associated data (for a `secret` field: collection, record id and field) is bound into both, so a
 * sealed value copied to another record or field does not open. Rotating the master key only
 * re-wraps data keys ({@link SecretBox.rewrap}); the values themselves are not re-encrypted — that is
 * sealing them anew (`basalt keys rotate --reencrypt`, after a leak: see docs/encryption.md).
 *
 * Sealed form (text, safe in any column):
 * `bse1.<kid>.<wrap iv>.<wrapped data key + tag>.<iv>.<ciphertext + tag>` (base64url parts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';

/** A master key: an id (stored beside each value it wraps) and 32 secret bytes. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

const PREFIX = 'bse1';
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, sealed: Buffer.concat([ct, cipher.getAuthTag()]) };
}

function gcmOpen(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (iv.length !== 12 || sealed.length < 16) throw new Error('malformed');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
}

/** Parts of a sealed value. */
interface Envelope {
  kid: string;
  wrapIv: Buffer;
  wrapped: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
}

function parse(sealed: string): Envelope | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX || !KID_PATTERN.test(parts[1])) return undefined;
  const [wrapIv, wrapped, iv, ciphertext] = parts.slice(2).map((p) => Buffer.from(p, 'base64url'));
  return { kid: parts[1], wrapIv, wrapped, iv, ciphertext };
}

function format(e: Envelope): string {
  return [PREFIX, e.kid, ...[e.wrapIv, e.wrapped, e.iv, e.ciphertext].map((b) => b.toString('base64url'))].join('.');
}

/** Seals and opens values with the configured master keys; the first key is the active one. */
export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #active: MasterKey;

  /** `keys[0]` wraps new data keys; the others only unwrap (keep them until `basalt keys rotate` ran). */
  constructor(keys: readonly MasterKey[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one master key');
    for (const k of keys) {
      if (!KID_PATTERN.test(k.id)) throw new Error(`invalid master key id "${k.id}"`);
      if (k.key.length !== 32) throw new Error(`master key "${k.id}" must be 32 bytes`);
    }
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    this.#active = keys[0];
  }

  /** The id of the key that wraps new values. */
  get activeKeyId(): string {
    return this.#active.id;
  }

  /** True when `value` is in the sealed form (it may still fail to open). */
  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(`${PREFIX}.`) && parse(value) !== undefined;
  }

  /** Encrypt `plaintext` under a fresh data key, bound to `aad`. */
  seal(plaintext: string, aad: string): string {
    const dataKey = randomBytes(32);
    const ad = Buffer.from(aad, 'utf8');
    const { iv, sealed } = gcmSeal(dataKey, Buffer.from(plaintext, 'utf8'), ad);
    const wrap = gcmSeal(this.#active.key, dataKey, this.#wrapAad(this.#active.id, ad));
    dataKey.fill(0);
    return format({ kid: this.#active.id, wrapIv: wrap.iv, wrapped: wrap.sealed, iv, ciphertext: sealed });
  }

  /** Decrypt a sealed value; `secret_unreadable` when it is malformed, tampered, moved or its key is gone. */
  open(sealed: string, aad: string): string {
    const e = parse(sealed);
    const ad = Buffer.from(aad, 'utf8');
    try {
      if (!e) throw new Error('malformed');
      const dataKey = this.#unwrap(e, ad);
      const plaintext = gcmOpen(dataKey, e.iv, e.ciphertext, ad).toString('utf8');
      dataKey.fill(0);
      return plaintext;
    } catch (cause) {
      throw new BasaltError('secret_unreadable', { cause });
    }
  }

  /** True when the value's data key is wrapped by another key than the active one. */
  needsRewrap(sealed: string): boolean {
    const e = parse(sealed);
    return e !== undefined && e.kid !== this.#active.id;
  }

  /**
   * Re-wrap the value's data key with the active master key; the encrypted value is unchanged.
   * Answers the value itself when it is already wrapped by the active key.
   */
  rewrap(sealed: string, aad: string): string {
    const e = parse(sealed);
    if (!e) throw new BasaltError('secret_unreadable');
    if (e.kid === this.#active.id) return sealed;
    const ad = Buffer.from(aad, 'utf8');
    let dataKey: Buffer;
    try {
      dataKey = this.#unwrap(e, ad);
      gcmOpen(dataKey, e.iv, e.ciphertext, ad); // never re-wrap a value that would not open
    } catch (cause) {
      throw new BasaltError('secret_unreadable', { cause });
    }
    const wrap = gcmSeal(this.#active.key, dataKey, this.#wrapAad(this.#active.id, ad));
    dataKey.fill(0);
    return format({ ...e, kid: this.#active.id, wrapIv: wrap.iv, wrapped: wrap.sealed });
  }

  #unwrap(e: Envelope, ad: Buffer): Buffer {
    const master = this.#keys.get(e.kid);
    if (!master) throw new Error(`master key "${e.kid}" is not configured`);
    return gcmOpen(master, e.wrapIv, e.wrapped, this.#wrapAad(e.kid, ad));
  }

  #wrapAad(kid: string, ad: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`${PREFIX}.${kid}.`, 'utf8'), ad]);
  }
}

/**
 * Parse master keys from configuration: `id:base64key` entries (32 bytes each, base64 or base64url),
 * the first one active. Throws with a message naming the bad entry (never the key material).
 */
export function parseMasterKeys(entries: readonly string[]): MasterKey[] {
  const ids = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (!KID_PATTERN.test(id)) throw new Error(`encryption key #${i + 1}: expected "id:base64key" with an id of A-Z, a-z, 0-9, "_" or "-"`);
    if (key.length !== 32) throw new Error(`encryption key "${id}": the key must be 32 bytes (base64), e.g. from \`openssl rand -base64 32\``);
    if (ids.has(id)) throw new Error(`encryption key "${id}" is listed twice`);
    ids.add(id);
    return { id, key };
  });
}

/** A new master key entry, `id:base64key` (for the generated development key and `basalt keys new-master`). */
export function newMasterKeyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
