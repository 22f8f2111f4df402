/**
 * Recovery codes: {@link RECOVERY_CODE_COUNT} single-use codes, shown once, usable as the second factor in
 * place of the authenticator app. Each code is 16 characters from a 32-letter alphabet (80 random bits),
 * written `xxxx-xxxx-xxxx-xxxx`.
 *
 * Stored as SHA-256 hashes, salted with the owner (`<collectionId>/<recordId>/<code>`). A fast hash is
 * enough here, unlike for passwords: the codes are random, not chosen by people, so a stolen table
 * leaves 2^80 guesses per code — out of reach at any hashing speed — while a slow hash (argon2id) would
 * cost every recovery sign-in up to ten slow comparisons. A code is spent by one conditional UPDATE
 * (`used = ''` → now), so it works once even under concurrent use.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Database } from '../../db/index.ts';
import { formatTimestamp } from '../../tools/index.ts';

/** Codes per set. */
export const RECOVERY_CODE_COUNT = 10;

/** Crockford's Base32 alphabet: no I, L, O or U, so codes survive being read aloud or retyped. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const CODE_CHARS = 16;

/** A new random recovery code, `xxxx-xxxx-xxxx-xxxx`. */
export function newRecoveryCode(): string {
  let s = '';
  for (let i = 0; i < CODE_CHARS; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s.match(/.{4}/g)!.join('-');
}

/** A typed code in canonical form (case, dashes, spaces and look-alike letters forgiven); undefined when malformed. */
export function normalizeRecoveryCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const s = input.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (s.length !== CODE_CHARS || [...s].some((ch) => !ALPHABET.includes(ch))) return undefined;
  return s;
}

function hashOf(collectionId: string, recordId: string, normalized: string): string {
  return createHash('sha256').update(`${collectionId}/${recordId}/${normalized}`).digest('base64url');
}

/** The `_mfa_recovery_codes` store. */
export class RecoveryCodes {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Replace the record's codes with a new set; answers the codes (the only time they are visible). */
  async regenerate(collectionId: string, recordId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const now = formatTimestamp();
    await this.#db.transaction(async (tx) => {
      await tx.run('DELETE FROM _mfa_recovery_codes WHERE collection_id = ? AND record_id = ?', [collectionId, recordId]);
      for (const code of codes) {
        await tx.run('INSERT INTO _mfa_recovery_codes (hash, collection_id, record_id, used, created) VALUES (?, ?, ?, \'\', ?)', [hashOf(collectionId, recordId, normalizeRecoveryCode(code)!), collectionId, recordId, now]);
      }
    });
    return codes;
  }

  /** Spend a code of the record: true once per code, false for unknown, spent or malformed codes. */
  async consume(collectionId: string, recordId: string, code: unknown): Promise<boolean> {
    const normalized = normalizeRecoveryCode(code);
    if (!normalized) return false;
    const r = await this.#db.run(
      'UPDATE _mfa_recovery_codes SET used = ? WHERE hash = ? AND collection_id = ? AND record_id = ? AND used = \'\'',
      [formatTimestamp(), hashOf(collectionId, recordId, normalized), collectionId, recordId],
    );
    return r.changes === 1;
  }

  /** How many unused codes the record has. */
  async remaining(collectionId: string, recordId: string): Promise<number> {
    const row = await this.#db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM _mfa_recovery_codes WHERE collection_id = ? AND record_id = ? AND used = \'\'', [collectionId, recordId]);
    return Number(row?.n ?? 0);
  }

  /** Delete every code of the record. */
  async removeAll(collectionId: string, recordId: string): Promise<void> {
    await this.#db.run('DELETE FROM _mfa_recovery_codes WHERE collection_id = ? AND record_id = ?', [collectionId, recordId]);
  }
}
