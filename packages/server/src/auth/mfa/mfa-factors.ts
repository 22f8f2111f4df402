/**
 * The second factors of a Basalt instance in one place: TOTP, recovery codes and passkeys, plus the
 * clean-up that removes a record's factors with the record.
 */
import type { RecordsService } from '../../records/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import type { Executor } from '../../db/index.ts';
import { TotpFactor } from './totp-factor.ts';
import { RecoveryCodes } from './recovery-codes.ts';
import { Passkeys } from './passkey-factor.ts';

/** A record's MFA state as its owner sees it. */
export interface MfaStatus {
  totp: { enabled: boolean; pending: boolean };
  recoveryCodes: { remaining: number };
  passkeys: number;
}

/** TOTP, recovery codes and passkeys over one database. */
export class MfaFactors {
  readonly totp: TotpFactor;
  readonly recovery: RecoveryCodes;
  readonly passkeys: Passkeys;

  constructor(records: RecordsService, secrets: SecretBox) {
    this.totp = new TotpFactor(records.db, secrets);
    this.recovery = new RecoveryCodes(records.db);
    this.passkeys = new Passkeys(records.db);
    // A deleted auth record takes its factors and pending MFA sign-ins along, in the same transaction.
    records.hooks.on('delete', '*', async (e, next) => {
      await next();
      if (e.collection.type === 'auth') await MfaFactors.forget(e.tx, e.collection.id, String(e.record.id ?? e.original?.id ?? ''));
    }, { id: 'mfa-forget-record', priority: 1002 });
  }

  /** Delete every MFA row of a record. */
  static async forget(ex: Executor, collectionId: string, recordId: string): Promise<void> {
    for (const table of ['_mfa_totp', '_mfa_recovery_codes', '_passkeys', '_mfas', '_webauthn_challenges']) {
      await ex.run(`DELETE FROM ${table} WHERE collection_id = ? AND record_id = ?`, [collectionId, recordId]);
    }
  }

  /** The record's enrolment state (no secrets). */
  async status(collectionId: string, recordId: string): Promise<MfaStatus> {
    return {
      totp: await this.totp.status(collectionId, recordId),
      recoveryCodes: { remaining: await this.recovery.remaining(collectionId, recordId) },
      passkeys: (await this.passkeys.list(collectionId, recordId)).length,
    };
  }
}
