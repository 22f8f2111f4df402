/**
 * Single-use email tokens for verification, password reset and email change. Each token is 32 random
 * bytes shown once (in the email); only its SHA-256 is stored. A token is bound to the record's email
 * and tokenKey at issue time, so it dies when used, when it expires, and when the record's email or
 * password changed since it was issued.
 */
import { createHash, randomBytes } from 'node:crypto';
import { formatTimestamp } from '../tools/index.ts';
import type { Database, Executor } from '../db/index.ts';
import { tokenKeyHash } from './auth-tokens.ts';

/** What a token is for. */
export type EmailTokenPurpose = 'verification' | 'password_reset' | 'email_change';

/** A live (unused, unexpired) token as stored. */
export interface EmailTokenGrant {
  hash: string;
  purpose: EmailTokenPurpose;
  collectionId: string;
  recordId: string;
  /** The record's email when the token was issued. */
  email: string;
  /** For `email_change`: the address to change to. */
  newEmail: string;
  /** Hash of the record's tokenKey when the token was issued. */
  tokenKeyHash: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** The store of email tokens (`_email_tokens`). */
export class EmailTokens {
  readonly #db: Database;
  #lastSweep = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Issue a token for `record` (its current email and tokenKey); answers the token, which is never stored. */
  async issue(purpose: EmailTokenPurpose, collectionId: string, record: { id: string; email: string; tokenKey: string }, ttlSeconds: number, newEmail = ''): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.#db.run(
      'INSERT INTO _email_tokens (hash, purpose, collection_id, record_id, email, new_email, token_key_hash, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [sha256(token), purpose, collectionId, record.id, record.email, newEmail, tokenKeyHash(record.tokenKey), formatTimestamp(new Date(now)), formatTimestamp(new Date(now + ttlSeconds * 1000))],
    );
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      // Expired and used tokens have no further use; keep the table small.
      await this.#db.run(`DELETE FROM _email_tokens WHERE expires < ? OR (used != '' AND used < ?)`, [formatTimestamp(new Date(now)), formatTimestamp(new Date(now - 86_400_000))]);
    }
    return token;
  }

  /** The live token of this purpose and collection, or undefined (unknown, used, expired, other purpose). */
  async find(token: unknown, purpose: EmailTokenPurpose, collectionId: string): Promise<EmailTokenGrant | undefined> {
    if (typeof token !== 'string' || token.length < 20 || token.length > 200) return undefined;
    const row = await this.#db.get<{ hash: string; purpose: string; collection_id: string; record_id: string; email: string; new_email: string; token_key_hash: string; expires: string; used: string }>(
      'SELECT hash, purpose, collection_id, record_id, email, new_email, token_key_hash, expires, used FROM _email_tokens WHERE hash = ?',
      [sha256(token)],
    );
    if (!row || row.purpose !== purpose || row.collection_id !== collectionId || row.used !== '' || row.expires < formatTimestamp()) return undefined;
    return { hash: row.hash, purpose, collectionId: row.collection_id, recordId: row.record_id, email: row.email, newEmail: row.new_email, tokenKeyHash: row.token_key_hash };
  }

  /** True when `grant` still matches the record as stored now (same email, same tokenKey). */
  static boundTo(grant: EmailTokenGrant, row: Record<string, unknown>): boolean {
    return String(row.email ?? '') === grant.email && tokenKeyHash(String(row.tokenKey ?? '')) === grant.tokenKeyHash;
  }

  /**
   * Mark the token used, inside the transaction of the write it allows; false when another request
   * took it first (the caller then fails, and the transaction rolls back). The binding ({@link boundTo})
   * is for the caller to check again inside that transaction, after its write (auth-email-flows.ts).
   */
  async consume(tx: Executor, grant: EmailTokenGrant): Promise<boolean> {
    const r = await tx.run(`UPDATE _email_tokens SET used = ? WHERE hash = ? AND used = '' AND expires >= ?`, [formatTimestamp(), grant.hash, formatTimestamp()]);
    return r.changes === 1;
  }
}
