/**
 * The multi-factor policy of {@link AuthService.signIn} (PocketBase's MFA flow): when a collection's
 * `mfa.enabled` is set and the record matches `mfa.rule`, a sign-in with one factor issues no tokens.
 * It stores a challenge (`_mfas`: record, first method, expiry after `mfa.duration`) and answers
 * 401 with `mfaId`; a later sign-in of the same record with a different method and that `mfaId`
 * completes it. A challenge is consumed by one atomic `DELETE … RETURNING`, so it works once.
 */
import { BasaltError } from '../../errors/index.ts';
import { formatTimestamp, newId } from '../../tools/index.ts';
import { authOptions, type Collection } from '../../schema/index.ts';
import type { Principal, RecordsService } from '../../records/index.ts';
import type { ClientInfo } from '../auth-service.ts';

/** Length of an `mfaId`: 32 characters of [a-z0-9], about 165 bits (it stands for a proven first factor). */
const MFA_ID_LENGTH = 32;
const MFA_ID_PATTERN = /^[a-z0-9]{15,64}$/;

/** A stored first factor waiting for its second. */
export interface MfaChallenge {
  id: string;
  collectionId: string;
  recordId: string;
  /** The first sign-in's method name (see {@link methodOf}). */
  method: string;
  /** The first sign-in's RFC 8176 methods. */
  amr: string[];
}

/** What challenge listeners learn (audit): never the record's secrets. */
export interface MfaChallengeEvent {
  collection: Collection;
  recordId: string;
  method: string;
  amr: readonly string[];
  client: ClientInfo;
}

/**
 * The method name MFA compares ("a different method"): the caller's explicit name (`totp`,
 * `recovery`, `passkey`…) or else its amr values, e.g. `pwd`, `otp`, `fed`.
 */
export function methodOf(amr: readonly string[], explicit?: string): string {
  return explicit ?? [...new Set(amr)].sort().join('+');
}

/**
 * Whether one sign-in already proved several factors: an explicit `mfa`, or proof of possession of a
 * key (`hwk`/`swk`) with user verification (`user`), as a passkey with a PIN or biometric does.
 */
export function isMultiFactor(amr: readonly string[]): boolean {
  return amr.includes('mfa') || (amr.includes('user') && (amr.includes('hwk') || amr.includes('swk')));
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The `_mfas` store and the policy check that {@link AuthService.signIn} runs. */
export class MfaChallenges {
  readonly #records: RecordsService;
  readonly #listeners: ((e: MfaChallengeEvent) => Promise<void> | void)[] = [];
  #lastSweep = 0;

  constructor(records: RecordsService) {
    this.#records = records;
  }

  /** Be told of every challenge handed out (a first factor that needs a second). */
  onChallenge(listener: (e: MfaChallengeEvent) => Promise<void> | void): void {
    this.#listeners.push(listener);
  }

  /**
   * Whether the MFA policy covers this record: `mfa.enabled`, and `mfa.rule` (`""` = every record)
   * evaluated with the record as `@request.auth`. A rule that cannot be evaluated requires MFA (fail closed).
   * A superuser is evaluated as a plain record of `_superusers`: superusers bypass every rule, which would
   * make any `mfa.rule` true for them.
   */
  async required(c: Collection, recordId: string, principal: Principal): Promise<boolean> {
    const o = authOptions(c).mfa;
    if (!o.enabled) return false;
    if (o.rule.trim() === '') return true;
    const subject: Principal = principal.kind === 'superuser' ? { kind: 'record', collection: c.name, record: principal.record } : principal;
    try {
      return await this.#records.passesRule(c, o.rule, recordId, subject);
    } catch {
      return true;
    }
  }

  /**
   * The policy step of a sign-in whose factor `amr` is proven. Answers the methods the tokens record:
   * with a valid `mfaId`, both sign-ins' methods plus `mfa`; for a sign-in that is multi-factor by itself,
   * its methods plus `mfa`; otherwise `amr` unchanged when MFA is not required. When it is required, stores
   * a challenge and throws `mfa_required` carrying `mfaId`.
   *
   * @param principal the record's own principal (with its presented record), for `mfa.rule`.
   */
  async gate(c: Collection, row: Record<string, unknown>, amr: readonly string[], opts: { mfaId?: unknown; method?: string }, principal: Principal, client: ClientInfo): Promise<string[]> {
    const recordId = String(row.id);
    const method = methodOf(amr, opts.method);
    if (opts.mfaId !== undefined && opts.mfaId !== null && opts.mfaId !== '') {
      const first = await this.consume(opts.mfaId, c, recordId, method);
      return unique([...first, ...amr, 'mfa']);
    }
    if (isMultiFactor(amr)) return unique([...amr, 'mfa']);
    if (!(await this.required(c, recordId, principal))) return [...amr];
    const mfaId = await this.#create(c, recordId, method, amr);
    for (const listener of this.#listeners) await listener({ collection: c, recordId, method, amr, client });
    throw new BasaltError('mfa_required', { extensions: { mfaId } });
  }

  async #create(c: Collection, recordId: string, method: string, amr: readonly string[]): Promise<string> {
    const now = Date.now();
    const id = newId(MFA_ID_LENGTH);
    const db = this.#records.db;
    const ttl = authOptions(c).mfa.duration;
    await db.run(
      'INSERT INTO _mfas (id, collection_id, record_id, method, amr, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [id, c.id, recordId, method, JSON.stringify(unique(amr)), formatTimestamp(new Date(now)), formatTimestamp(new Date(now + ttl * 1000))],
    );
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      await db.run('DELETE FROM _mfas WHERE expires < ?', [formatTimestamp(new Date(now))]);
    }
    return id;
  }

  /** A live (unexpired) challenge by id, without consuming it; undefined for anything else. */
  async peek(mfaId: unknown): Promise<MfaChallenge | undefined> {
    if (typeof mfaId !== 'string' || !MFA_ID_PATTERN.test(mfaId)) return undefined;
    const row = await this.#records.db.get<{ id: string; collection_id: string; record_id: string; method: string; amr: string }>(
      'SELECT id, collection_id, record_id, method, amr FROM _mfas WHERE id = ? AND expires > ?',
      [mfaId, formatTimestamp()],
    );
    return row ? { id: row.id, collectionId: row.collection_id, recordId: row.record_id, method: row.method, amr: JSON.parse(row.amr) as string[] } : undefined;
  }

  /**
   * Consume a challenge for a second sign-in of `recordId` with `method`: one statement that deletes it
   * only when it is of this collection and record, unexpired and of another method, so concurrent
   * second factors cannot both use it. A refused attempt leaves it in place. Answers the first methods.
   */
  async consume(mfaId: unknown, c: Collection, recordId: string, method: string): Promise<string[]> {
    if (typeof mfaId !== 'string' || !MFA_ID_PATTERN.test(mfaId)) throw new BasaltError('mfa_invalid');
    const row = await this.#records.db.get<{ amr: string }>(
      'DELETE FROM _mfas WHERE id = ? AND collection_id = ? AND record_id = ? AND method <> ? AND expires > ? RETURNING amr',
      [mfaId, c.id, recordId, method, formatTimestamp()],
    );
    if (!row) throw new BasaltError('mfa_invalid');
    return JSON.parse(row.amr) as string[];
  }
}
