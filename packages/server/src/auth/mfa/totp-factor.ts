/**
 * One TOTP authenticator per auth record (`_mfa_totp`). Enrolment stores a pending secret; a correct
 * code confirms it. The secret is sealed with the SecretBox, bound to its owner
 * (`_mfa_totp/<collectionId>/<recordId>`), so a value copied to another row does not open.
 *
 * A code works once: the last accepted time step is stored, and a code is accepted only through an
 * atomic compare-and-set (`UPDATE … WHERE last_step < ?`, exactly one changed row), so two concurrent
 * sign-ins with one code cannot both succeed, on any node.
 */
import type { Database } from '../../db/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import { BasaltError } from '../../errors/index.ts';
import { formatTimestamp, newId } from '../../tools/index.ts';
import { newTotpSecret, otpauthUri, totpMatch } from './totp-codes.ts';

/** The associated data a record's TOTP secret is sealed with. */
export function totpAad(collectionId: string, recordId: string): string {
  return `_mfa_totp/${collectionId}/${recordId}`;
}

/** What enrolment answers, once: the secret and its QR-ready URI. */
export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

interface TotpRow {
  id: string;
  secret: string;
  confirmed: number | boolean;
  last_step: number | string;
}

/** TOTP enrolment and verification. */
export class TotpFactor {
  readonly #db: Database;
  readonly #secrets: SecretBox;
  readonly #now: () => number;

  /** `now` (milliseconds) is for tests that need a fixed clock. */
  constructor(db: Database, secrets: SecretBox, now: () => number = Date.now) {
    this.#db = db;
    this.#secrets = secrets;
    this.#now = now;
  }

  async #row(collectionId: string, recordId: string): Promise<TotpRow | undefined> {
    return this.#db.get<TotpRow & Record<string, unknown>>('SELECT id, secret, confirmed, last_step FROM _mfa_totp WHERE collection_id = ? AND record_id = ?', [collectionId, recordId]);
  }

  /** Whether the record has a confirmed authenticator, or one waiting for its first code. */
  async status(collectionId: string, recordId: string): Promise<{ enabled: boolean; pending: boolean }> {
    const row = await this.#row(collectionId, recordId);
    const confirmed = Boolean(row && Number(row.confirmed) === 1);
    return { enabled: confirmed, pending: Boolean(row) && !confirmed };
  }

  /**
   * Start enrolment: a new secret, pending until {@link confirm}. A pending secret is replaced; a confirmed
   * one is not (`conflict`: remove it first, with a code or the password).
   */
  async enroll(collectionId: string, recordId: string, issuer: string, account: string): Promise<TotpEnrolment> {
    const secret = newTotpSecret();
    const sealed = this.#secrets.seal(secret, totpAad(collectionId, recordId));
    const now = formatTimestamp(new Date(this.#now()));
    const r = await this.#db.run(
      `INSERT INTO _mfa_totp (id, collection_id, record_id, secret, confirmed, last_step, created, updated) VALUES (?, ?, ?, ?, 0, 0, ?, ?)
       ON CONFLICT (collection_id, record_id) DO UPDATE SET secret = excluded.secret, last_step = 0, updated = excluded.updated WHERE _mfa_totp.confirmed = 0`,
      [newId(), collectionId, recordId, sealed, now, now],
    );
    if (r.changes !== 1) throw new BasaltError('conflict', { message: 'TOTP is already enabled; remove it first.' });
    return { secret, otpauthUri: otpauthUri(issuer || 'Basalt', account, secret) };
  }

  /** Prove the app has the pending secret; its code is spent. False for a wrong code or nothing pending. */
  async confirm(collectionId: string, recordId: string, code: unknown): Promise<boolean> {
    const row = await this.#row(collectionId, recordId);
    if (!row || Number(row.confirmed) === 1) return false;
    const step = await this.#match(collectionId, recordId, row, code);
    if (step === undefined) return false;
    const r = await this.#db.run(
      'UPDATE _mfa_totp SET confirmed = 1, last_step = ?, updated = ? WHERE id = ? AND confirmed = 0 AND last_step < ?',
      [step, formatTimestamp(new Date(this.#now())), row.id, step],
    );
    return r.changes === 1;
  }

  /**
   * Check a code of the confirmed authenticator and spend its time step (compare-and-set): true only for
   * a right code of a step later than every step accepted before.
   */
  async verify(collectionId: string, recordId: string, code: unknown): Promise<boolean> {
    const row = await this.#row(collectionId, recordId);
    if (!row || Number(row.confirmed) !== 1) return false;
    const step = await this.#match(collectionId, recordId, row, code);
    if (step === undefined || step <= Number(row.last_step)) return false;
    const r = await this.#db.run(
      'UPDATE _mfa_totp SET last_step = ?, updated = ? WHERE id = ? AND confirmed = 1 AND last_step < ?',
      [step, formatTimestamp(new Date(this.#now())), row.id, step],
    );
    return r.changes === 1;
  }

  /** Remove the record's authenticator (confirmed or pending); false when it had none. */
  async remove(collectionId: string, recordId: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM _mfa_totp WHERE collection_id = ? AND record_id = ?', [collectionId, recordId])).changes > 0;
  }

  async #match(collectionId: string, recordId: string, row: TotpRow, code: unknown): Promise<number | undefined> {
    const secret = this.#secrets.open(row.secret, totpAad(collectionId, recordId));
    return totpMatch(secret, code, this.#now() / 1000);
  }
}
