/**
 * WebAuthn passkeys through `@simplewebauthn/server`: registration by a signed-in record, and sign-in
 * either passwordless (a discoverable credential, user verification required) or as the second factor
 * of an MFA sign-in. Challenges are kept server-side (`_webauthn_challenges`, by SHA-256 of the
 * challenge), expire after {@link CHALLENGE_TTL_MS} and are consumed by one atomic `DELETE … RETURNING`,
 * so an answer cannot be replayed. Signature counters only move forward (a compare-and-set on the
 * stored counter), which refuses cloned authenticators that report a counter seen before.
 *
 * RFC 8176 methods of a passkey sign-in: `hwk` for a device-bound credential, `swk` for a synced
 * (multi-device) one, plus `user` when the authenticator verified the user (PIN or biometric).
 */
import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Database } from '../../db/index.ts';
import type { AuthOptions } from '../../schema/index.ts';
import { BasaltError } from '../../errors/index.ts';
import { formatTimestamp, newId } from '../../tools/index.ts';

/** How long a registration or sign-in ceremony may take. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Passkeys per record. */
export const MAX_PASSKEYS = 20;
/**
 * COSE algorithms accepted for new passkeys: EdDSA, ES256, RS256 (what authenticators ship). Listed
 * explicitly so the library does not probe the runtime for post-quantum ML-DSA (an experimental Node API
 * that prints a warning).
 */
export const PASSKEY_ALGORITHMS: readonly number[] = [-8, -7, -257];

/** The relying party of a collection: from its `passkeys` options, else the host of `publicUrl`. */
export interface PasskeySettings {
  rpName: string;
  /** The domain credentials are scoped to (`example.com` covers `app.example.com`). */
  rpId: string;
  /** The exact origins pages may run ceremonies from. */
  origins: string[];
}

/** The relying party for a collection's passkey options and the server's public URL. */
export function passkeySettings(options: AuthOptions['passkeys'], publicUrl: string): PasskeySettings {
  let host = 'localhost';
  let origin = 'http://localhost';
  try {
    const u = new URL(publicUrl);
    host = u.hostname;
    origin = u.origin;
  } catch {
    // an unparsable public URL leaves the localhost defaults; configure rpId and origins explicitly
  }
  return { rpName: options.rpName || 'Basalt', rpId: options.rpId || host, origins: options.origins.length ? [...options.origins] : [origin] };
}

/** A passkey as its owner sees it (no key material). */
export interface PasskeyInfo {
  id: string;
  name: string;
  created: string;
  lastUsed: string;
  transports: string[];
  /** `singleDevice` (device-bound) or `multiDevice` (synced). */
  deviceType: string;
  backedUp: boolean;
}

/** What a verified passkey sign-in proves. */
export interface PasskeyProof {
  recordId: string;
  passkeyId: string;
  amr: string[];
}

interface PasskeyRow {
  id: string;
  record_id: string;
  credential_id: string;
  public_key: string;
  counter: number | string;
  transports: string;
  device_type: string;
  backed_up: number | boolean;
  name: string;
  created: string;
  last_used: string;
}

/**
 * What a challenge is for: registering a passkey, a passwordless sign-in, the second factor of an MFA
 * sign-in, or a signed-in record confirming a factor change with one of its passkeys (`reauth`). An
 * answer is accepted only for the purpose its challenge was issued for.
 */
type Purpose = 'register' | 'signin' | 'mfa' | 'reauth';

function challengeHash(challenge: string): string {
  return createHash('sha256').update(challenge).digest('base64url');
}

/** The user handle of a record: its id's bytes (an opaque id, no personal data). */
function userHandleOf(recordId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(recordId, 'utf8'));
}

function info(r: PasskeyRow): PasskeyInfo {
  return {
    id: r.id, name: r.name, created: r.created, lastUsed: r.last_used,
    transports: JSON.parse(r.transports) as string[], deviceType: r.device_type, backedUp: Number(r.backed_up) === 1 || r.backed_up === true,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The challenge a client answered, read from its `clientDataJSON` (verified later by the library). */
function answeredChallenge(credential: unknown): string | undefined {
  if (!isRecord(credential) || !isRecord(credential.response) || typeof credential.response.clientDataJSON !== 'string') return undefined;
  try {
    const data = JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8')) as unknown;
    return isRecord(data) && typeof data.challenge === 'string' && data.challenge.length <= 512 ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

function cleanName(name: unknown): string {
  if (name === undefined || name === null || name === '') return 'Passkey';
  if (typeof name !== 'string' || name.length > 100 || /[\u0000-\u001f]/.test(name)) {
    throw new BasaltError('validation_failed', { data: { name: { code: 'validation_invalid_value', message: 'A name is at most 100 printable characters.' } } });
  }
  return name.trim() || 'Passkey';
}

/** Passkey registration, sign-in and management over `_passkeys`. */
export class Passkeys {
  readonly #db: Database;
  #lastSweep = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  async #saveChallenge(challenge: string, collectionId: string, recordId: string, purpose: Purpose, mfaId = ''): Promise<void> {
    const now = Date.now();
    await this.#db.run(
      'INSERT INTO _webauthn_challenges (hash, collection_id, record_id, purpose, mfa_id, expires) VALUES (?, ?, ?, ?, ?, ?)',
      [challengeHash(challenge), collectionId, recordId, purpose, mfaId, formatTimestamp(new Date(now + CHALLENGE_TTL_MS))],
    );
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      await this.#db.run('DELETE FROM _webauthn_challenges WHERE expires < ?', [formatTimestamp(new Date(now))]);
    }
  }

  /** Consume the challenge a credential answers: once, unexpired, of this collection. */
  async #takeChallenge(credential: unknown, collectionId: string): Promise<{ challenge: string; recordId: string; purpose: Purpose; mfaId: string } | undefined> {
    const challenge = answeredChallenge(credential);
    if (!challenge) return undefined;
    const row = await this.#db.get<{ record_id: string; purpose: string; mfa_id: string }>(
      'DELETE FROM _webauthn_challenges WHERE hash = ? AND collection_id = ? AND expires > ? RETURNING record_id, purpose, mfa_id',
      [challengeHash(challenge), collectionId, formatTimestamp()],
    );
    return row ? { challenge, recordId: row.record_id, purpose: row.purpose as Purpose, mfaId: row.mfa_id } : undefined;
  }

  async #rows(collectionId: string, recordId: string): Promise<PasskeyRow[]> {
    return this.#db.all<PasskeyRow & Record<string, unknown>>('SELECT * FROM _passkeys WHERE collection_id = ? AND record_id = ? ORDER BY created, id', [collectionId, recordId]);
  }

  /** The record's passkeys. */
  async list(collectionId: string, recordId: string): Promise<PasskeyInfo[]> {
    return (await this.#rows(collectionId, recordId)).map(info);
  }

  /** `navigator.credentials.create()` options for a signed-in record (its existing passkeys excluded). */
  async registrationOptions(collectionId: string, rp: PasskeySettings, record: { id: string; email: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#rows(collectionId, record.id);
    if (existing.length >= MAX_PASSKEYS) throw new BasaltError('conflict', { message: `At most ${MAX_PASSKEYS} passkeys per account.` });
    const options = await generateRegistrationOptions({
      rpName: rp.rpName, rpID: rp.rpId,
      userName: record.email || record.id, userDisplayName: record.email || record.id, userID: userHandleOf(record.id),
      attestationType: 'none',
      timeout: CHALLENGE_TTL_MS,
      excludeCredentials: existing.map((r) => ({ id: r.credential_id, transports: JSON.parse(r.transports) as string[] })),
      // Discoverable when the authenticator can (passwordless sign-in needs it); UV is checked at sign-in.
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      supportedAlgorithmIDs: [...PASSKEY_ALGORITHMS],
    });
    await this.#saveChallenge(options.challenge, collectionId, record.id, 'register');
    return options;
  }

  /**
   * Verify a `navigator.credentials.create()` answer for the record that asked for the options, and store
   * the credential. `auth_failed` for a wrong, expired or replayed challenge, origin, RP ID or attestation.
   */
  async register(collectionId: string, rp: PasskeySettings, recordId: string, credential: unknown, name: unknown): Promise<PasskeyInfo> {
    const label = cleanName(name);
    const taken = await this.#takeChallenge(credential, collectionId);
    if (!taken || taken.purpose !== 'register' || taken.recordId !== recordId) throw new BasaltError('auth_failed', { message: 'The passkey answer does not match a pending registration.' });
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: credential as RegistrationResponseJSON,
        expectedChallenge: taken.challenge, expectedOrigin: rp.origins, expectedRPID: rp.rpId,
        requireUserVerification: false, supportedAlgorithmIDs: [...PASSKEY_ALGORITHMS],
      });
    } catch (cause) {
      throw new BasaltError('auth_failed', { message: 'The passkey could not be verified.', cause });
    }
    if (!verified.verified) throw new BasaltError('auth_failed', { message: 'The passkey could not be verified.' });
    const { credential: cred, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
    const given = (credential as RegistrationResponseJSON).response?.transports;
    const transports = (cred.transports ?? (Array.isArray(given) ? given : [])).filter((t): t is string => typeof t === 'string').slice(0, 10);
    const row: PasskeyRow = {
      id: newId(), record_id: recordId, credential_id: cred.id, public_key: Buffer.from(cred.publicKey).toString('base64url'), counter: cred.counter,
      transports: JSON.stringify(transports), device_type: credentialDeviceType, backed_up: credentialBackedUp ? 1 : 0, name: label, created: formatTimestamp(), last_used: '',
    };
    try {
      await this.#db.run(
        'INSERT INTO _passkeys (id, collection_id, record_id, credential_id, public_key, counter, transports, device_type, backed_up, name, created, last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [row.id, collectionId, recordId, row.credential_id, row.public_key, Number(row.counter), row.transports, row.device_type, Number(row.backed_up), row.name, row.created, ''],
      );
    } catch (e) {
      if (this.#db.dialect.isUniqueViolation(e)) throw new BasaltError('conflict', { message: 'This passkey is already registered.' });
      throw e;
    }
    return info(row);
  }

  /**
   * `navigator.credentials.get()` options. Without `forRecord`: passwordless (any discoverable credential
   * of the collection, user verification required). With it: the second factor of the MFA sign-in
   * `forRecord.mfaId`, limited to that record's passkeys.
   */
  async authenticationOptions(collectionId: string, rp: PasskeySettings, forRecord?: { recordId: string; mfaId: string }): Promise<PublicKeyCredentialRequestOptionsJSON> {
    if (!forRecord) return this.#requestOptions(collectionId, rp, undefined, 'signin');
    return this.#requestOptions(collectionId, rp, forRecord.recordId, 'mfa', forRecord.mfaId);
  }

  /**
   * `navigator.credentials.get()` options for a signed-in record that confirms a change of its factors
   * with one of its passkeys (see {@link verifyOwner}); `bad_request` when it has none.
   */
  async reauthenticationOptions(collectionId: string, rp: PasskeySettings, recordId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.#requestOptions(collectionId, rp, recordId, 'reauth');
  }

  async #requestOptions(collectionId: string, rp: PasskeySettings, recordId: string | undefined, purpose: 'signin' | 'mfa' | 'reauth', mfaId = ''): Promise<PublicKeyCredentialRequestOptionsJSON> {
    let allow: { id: string; transports?: string[] }[] | undefined;
    if (recordId !== undefined) {
      const rows = await this.#rows(collectionId, recordId);
      if (!rows.length) throw new BasaltError('bad_request', { message: 'This account has no passkey.' });
      allow = rows.map((r) => ({ id: r.credential_id, transports: JSON.parse(r.transports) as string[] }));
    }
    const options = await generateAuthenticationOptions({
      rpID: rp.rpId, timeout: CHALLENGE_TTL_MS,
      ...(allow ? { allowCredentials: allow } : {}),
      userVerification: purpose === 'signin' ? 'required' : 'preferred',
    });
    await this.#saveChallenge(options.challenge, collectionId, recordId ?? '', purpose, mfaId);
    return options;
  }

  /**
   * Verify a `navigator.credentials.get()` answer. `mfaId` must be the one the options were made for
   * (absent for passwordless). Answers the record and the RFC 8176 methods; `auth_failed` for anything
   * wrong (challenge, origin, RP ID, signature, user verification, counter, owner).
   */
  async authenticate(collectionId: string, rp: PasskeySettings, credential: unknown, mfaId: string | undefined): Promise<PasskeyProof> {
    return this.#verifyAssertion(collectionId, rp, credential, (taken) => (mfaId ? taken.purpose === 'mfa' && taken.mfaId === mfaId : taken.purpose === 'signin'));
  }

  /**
   * Verify an answer to {@link reauthenticationOptions}: one of `recordId`'s own passkeys signed a
   * challenge issued for that record's re-authentication (not a sign-in or MFA challenge). `auth_failed`
   * otherwise; the signature counter moves as for a sign-in.
   */
  async verifyOwner(collectionId: string, rp: PasskeySettings, recordId: string, credential: unknown): Promise<PasskeyProof> {
    return this.#verifyAssertion(collectionId, rp, credential, (taken) => taken.purpose === 'reauth' && taken.recordId === recordId);
  }

  async #verifyAssertion(collectionId: string, rp: PasskeySettings, credential: unknown, accept: (taken: { purpose: Purpose; recordId: string; mfaId: string }) => boolean): Promise<PasskeyProof> {
    const fail = (cause?: unknown) => new BasaltError('auth_failed', { message: 'The passkey could not be verified.', cause });
    const taken = await this.#takeChallenge(credential, collectionId);
    if (!taken || !accept(taken)) throw fail();
    const response = credential as AuthenticationResponseJSON;
    if (typeof response.id !== 'string' || response.id.length > 1024) throw fail();
    const row = await this.#db.get<PasskeyRow & Record<string, unknown>>('SELECT * FROM _passkeys WHERE collection_id = ? AND credential_id = ?', [collectionId, response.id]);
    // Challenges bound to a record (MFA, re-authentication) accept only that record's passkeys.
    if (!row || (taken.purpose !== 'signin' && row.record_id !== taken.recordId)) throw fail();
    const handle = response.response?.userHandle;
    if (handle !== undefined && handle !== null && handle !== '' && handle !== Buffer.from(row.record_id, 'utf8').toString('base64url')) throw fail();
    const stored = Number(row.counter);
    let result;
    try {
      result = await verifyAuthenticationResponse({
        response, expectedChallenge: taken.challenge, expectedOrigin: rp.origins, expectedRPID: rp.rpId,
        credential: { id: row.credential_id, publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')), counter: stored, transports: JSON.parse(row.transports) as string[] },
        requireUserVerification: taken.purpose === 'signin',
      });
    } catch (cause) {
      throw fail(cause);
    }
    if (!result.verified) throw fail();
    const { newCounter, userVerified, credentialBackedUp } = result.authenticationInfo;
    // Compare-and-set: a concurrent sign-in that read the same counter cannot also move it.
    const moved = await this.#db.run(
      'UPDATE _passkeys SET counter = ?, backed_up = ?, last_used = ? WHERE id = ? AND counter = ?',
      [newCounter, credentialBackedUp ? 1 : 0, formatTimestamp(), row.id, stored],
    );
    if (moved.changes !== 1) throw fail();
    return { recordId: row.record_id, passkeyId: row.id, amr: [row.device_type === 'singleDevice' ? 'hwk' : 'swk', ...(userVerified ? ['user'] : [])] };
  }

  /** Rename one of the record's passkeys. */
  async rename(collectionId: string, recordId: string, id: string, name: unknown): Promise<PasskeyInfo> {
    const label = cleanName(name);
    const r = await this.#db.run('UPDATE _passkeys SET name = ? WHERE id = ? AND collection_id = ? AND record_id = ?', [label, id, collectionId, recordId]);
    if (r.changes !== 1) throw new BasaltError('not_found', { message: 'No such passkey.' });
    const row = (await this.#rows(collectionId, recordId)).find((x) => x.id === id)!;
    return info(row);
  }

  /** Delete one of the record's passkeys; false when it has no such passkey. */
  async remove(collectionId: string, recordId: string, id: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM _passkeys WHERE id = ? AND collection_id = ? AND record_id = ?', [id, collectionId, recordId])).changes === 1;
  }
}
