/**
 * Sign-in and principal resolution. This issue covers `_superusers` password sign-in; the identity
 * issue adds user auth collections, refresh tokens, OAuth and MFA on the same pieces.
 */
import { BasaltError } from '../errors/index.ts';
import { dummyPasswordHash, verifyPassword } from '../tools/index.ts';
import { ANONYMOUS, emptyRequest, type Principal, type RecordsService } from '../records/index.ts';
import { TokenService, tokenKeyHash } from './auth-tokens.ts';

/** What a successful sign-in answers (PocketBase's shape). */
export interface AuthResult {
  token: string;
  record: unknown;
}

/** Authentication over an auth collection's records. */
export class AuthService {
  readonly #records: RecordsService;
  readonly #tokens: TokenService;

  constructor(records: RecordsService, tokens: TokenService) {
    this.#records = records;
    this.#tokens = tokens;
  }

  /**
   * `auth-with-password`: the same answer, and about the same time, for an unknown identity as for a
   * wrong password (the hash is computed either way).
   */
  async authWithPassword(collection: string, identity: unknown, password: unknown): Promise<AuthResult> {
    const c = this.#records.registry.get(collection);
    if (c.type !== 'auth') throw new BasaltError('not_found', { message: 'The collection is not an auth collection.' });
    const problems: Record<string, { code: string; message: string }> = {};
    if (typeof identity !== 'string' || identity === '' || identity.length > 254) problems.identity = { code: 'validation_required', message: 'Cannot be blank.' };
    if (typeof password !== 'string' || password === '' || password.length > 1024) problems.password = { code: 'validation_required', message: 'Cannot be blank.' };
    if (Object.keys(problems).length) throw new BasaltError('validation_failed', { data: problems });
    const row = await this.#records.findRawBy(c.name, 'email', identity as string);
    const hash = typeof row?.password === 'string' ? row.password : await dummyPasswordHash();
    const ok = await verifyPassword(password as string, hash);
    if (!row || !ok) throw new BasaltError('auth_failed');
    const principal: Principal = c.name === '_superusers' ? { kind: 'superuser', record: { id: row.id } } : { kind: 'record', collection: c.name, record: { id: row.id } };
    const record = (await this.#records.present({ principal, request: emptyRequest() }, c, row)) as Record<string, unknown>;
    // The auth rule: an extra condition the record must meet to sign in (`null` = nobody can).
    if (c.name !== '_superusers' && !(await this.#records.passesRule(c, c.authRule ?? '', String(row.id), { ...principal, record } as Principal))) {
      throw new BasaltError('auth_failed');
    }
    const token = await this.#tokens.issue({ id: String(row.id), tokenKey: String(row.tokenKey) }, c.id);
    return { token, record };
  }

  /** Resolve the principal of a request from its `Authorization` header (bare token or `Bearer …`). */
  async principalFromHeader(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === '') return ANONYMOUS;
    const token = header.replace(/^Bearer\s+/i, '').trim();
    if (!token) return ANONYMOUS;
    const claims = await this.#tokens.verify(token);
    const c = this.#records.registry.find(claims.collectionId);
    if (!c || c.type !== 'auth') throw new BasaltError('token_invalid');
    const row = await this.#records.findRawBy(c.name, 'id', claims.id);
    if (!row || tokenKeyHash(String(row.tokenKey)) !== claims.tkh) throw new BasaltError('token_invalid');
    const record = await this.#records.present({ principal: { kind: 'superuser', record: {} }, request: emptyRequest() }, c, row) as Record<string, unknown>;
    return c.name === '_superusers' ? { kind: 'superuser', record } : { kind: 'record', collection: c.name, record };
  }

  /** Create or update a superuser (CLI `superuser upsert`). */
  async upsertSuperuser(email: string, password: string): Promise<'created' | 'updated'> {
    const su: Principal = { kind: 'superuser', record: {} };
    const ctx = { principal: su, request: emptyRequest() };
    const existing = await this.#records.findRawBy('_superusers', 'email', email);
    if (existing) {
      await this.#records.update(ctx, '_superusers', String(existing.id), { password, passwordConfirm: password });
      return 'updated';
    }
    await this.#records.create(ctx, '_superusers', { email, password, passwordConfirm: password, verified: true });
    return 'created';
  }
}
