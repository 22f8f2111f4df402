/**
 * Email one-time passwords (PocketBase's `request-otp` / `auth-with-otp`): `length` digits from a
 * CSPRNG, stored as an argon2id hash, valid for the collection's `otp.duration`, single use, and
 * burnt after {@link OTP_MAX_ATTEMPTS} tries. Every try is counted before the code is checked, so
 * parallel guesses cannot exceed the limit.
 */
import { randomInt } from 'node:crypto';
import { dummyPasswordHash, formatTimestamp, hashPassword, newId, verifyPassword } from '../tools/index.ts';
import type { Database } from '../db/index.ts';

/** Tries per OTP (the right one included); after that it is burnt. */
export const OTP_MAX_ATTEMPTS = 5;

/** What a correct OTP proves. */
export interface OtpGrant {
  collectionId: string;
  recordId: string;
  /** The address the code was mailed to. */
  sentTo: string;
}

/** `length` decimal digits from the CSPRNG. */
export function otpCode(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String(randomInt(10));
  return s;
}

/** The OTP store (`_otps`). */
export class OtpCodes {
  readonly #db: Database;
  #lastSweep = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /** A new OTP id, the same shape for known and unknown addresses (PocketBase's 15-character id). */
  newId(): string {
    return newId(15);
  }

  /** Store `code` for a record under `id`. */
  async store(id: string, collectionId: string, recordId: string, sentTo: string, code: string, ttlSeconds: number): Promise<void> {
    const now = Date.now();
    const hash = await hashPassword(code);
    await this.#db.run(
      'INSERT INTO _otps (id, collection_id, record_id, hash, sent_to, attempts, created, expires) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
      [id, collectionId, recordId, hash, sentTo, formatTimestamp(new Date(now)), formatTimestamp(new Date(now + ttlSeconds * 1000))],
    );
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      await this.#db.run('DELETE FROM _otps WHERE expires < ?', [formatTimestamp(new Date(now))]);
    }
  }

  /** Spend the time {@link store} spends, for an address that has no record. */
  async storeNothing(): Promise<void> {
    await hashPassword(otpCode(8));
  }

  /**
   * Check `code` against OTP `id` of `collectionId`. Counts the try first; a correct code deletes the
   * OTP (single use). Unknown, expired, burnt and wrong all answer undefined after about the same time.
   */
  async check(id: unknown, collectionId: string, code: unknown): Promise<OtpGrant | undefined> {
    const wellFormed = typeof id === 'string' && id.length <= 255 && typeof code === 'string' && code.length <= 71;
    const row = wellFormed
      ? await this.#db.get<{ collection_id: string; record_id: string; hash: string; sent_to: string }>(
        'UPDATE _otps SET attempts = attempts + 1 WHERE id = ? AND collection_id = ? AND attempts < ? AND expires >= ? RETURNING collection_id, record_id, hash, sent_to',
        [id, collectionId, OTP_MAX_ATTEMPTS, formatTimestamp()],
      )
      : undefined;
    const ok = await verifyPassword(typeof code === 'string' ? code : '', row?.hash ?? (await dummyPasswordHash()));
    if (!row || !ok) return undefined;
    // Single use: of two parallel correct tries, only the one that deletes the row signs in.
    const taken = await this.#db.run('DELETE FROM _otps WHERE id = ?', [id as string]);
    if (taken.changes !== 1) return undefined;
    return { collectionId: row.collection_id, recordId: row.record_id, sentTo: row.sent_to };
  }
}
