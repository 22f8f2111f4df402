/**
 * The email flows of auth collections (PocketBase-compatible): email verification, password reset,
 * email change, email OTP sign-in, and new-device notices after sign-ins.
 *
 * No answer reveals whether an address has an account: the `request-*` calls validate their input,
 * then do everything else (record lookup, token or OTP issue, sending) in the background, so known
 * and unknown addresses get the same answer after the same time. Background failures are logged
 * (never with a token, code or password) and audited.
 */
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { BasaltError } from '../errors/index.ts';
import { emptyRequest, type CallContext, type Principal, type RecordsService } from '../records/index.ts';
import { authOptions, type Collection } from '../schema/index.ts';
import { verifyPassword } from '../tools/index.ts';
import { isMailAddress, renderTemplate, type MailTemplate, type Mailer } from '../mail/index.ts';
import type { Database } from '../db/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { AuthService, ClientInfo, SignInEvent } from './auth-service.ts';
import { clientSummary } from './client-summary.ts';
import { EmailTokens, type EmailTokenGrant, type EmailTokenPurpose } from './email-tokens.ts';
import { OtpCodes, otpCode } from './otp-codes.ts';

/** Settings of the flows that come from the app configuration. */
export interface AuthEmailOptions {
  /** `{APP_NAME}` in templates. */
  appName: string;
  /** `{APP_URL}` in templates: the app's public URL. */
  appUrl: string;
}

/**
 * The principal of the writes these flows make on a record (set `verified`, a new password, a new
 * email): the proof is the token or code, not a signed-in caller, so the collection's update rule does
 * not apply. Audited as `superuser:system` besides the flow's own `auth.*` entry.
 */
const SYSTEM: Principal = Object.freeze({ kind: 'superuser', record: Object.freeze({ id: 'system' }) });
const systemCtx = (): CallContext => ({ principal: SYSTEM, request: emptyRequest() });

/**
 * An email address from a request body, or a `validation_failed` naming `field`. Strict
 * ({@link isMailAddress}): no lists, display names, quoted parts or non-ASCII, whatever a mail
 * library might make of them.
 */
function emailInput(field: string, v: unknown): string {
  if (v === undefined || v === null || v === '') throw new BasaltError('validation_failed', { data: { [field]: { code: 'validation_required', message: 'Cannot be blank.' } } });
  if (!isMailAddress(v)) throw new BasaltError('validation_failed', { data: { [field]: { code: 'validation_is_email', message: 'Must be a valid email address.' } } });
  return v;
}

function isVerified(row: Record<string, unknown>): boolean {
  return row.verified === true || row.verified === 1;
}

/** A password nobody knows (24 random bytes): what an account gets when its old password must not survive. */
export function unknownPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The password check of `confirm-email-change`, supplied by the route so that it counts against the
 * same per-identity sign-in budget as `auth-with-password` (a stolen session must not get a second
 * place to guess the password).
 */
export interface PasswordAttemptGuard {
  /** Before the check: count the attempt for this account (may throw `rate_limited`). */
  before(collection: Collection, email: string): Promise<void>;
  /** After a wrong password: the progressive failure delay. */
  failed(): Promise<void>;
}

/** The built-in notice mailed when a provider account is linked (not a collection template: a fixed safety notice). */
const IDENTITY_LINKED_TEMPLATE: MailTemplate = {
  subject: 'A sign-in method was added to your {APP_NAME} account',
  body: 'A {PROVIDER} account was linked to your {APP_NAME} account ({EMAIL}) from {DEVICE}. It can now be used to sign in.\n\n'
    + 'If this was not you, sign in, remove the linked account, end your other sessions and change your password at once.',
};

/** A required string member of a request body. */
function required(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v === '') throw new BasaltError('validation_failed', { data: { [field]: { code: 'validation_required', message: 'Cannot be blank.' } } });
  if (v.length > max) throw new BasaltError('validation_failed', { data: { [field]: { code: 'validation_length_out_of_range', message: `Must be at most ${max} characters.` } } });
  return v;
}

const tokenInvalid = () => new BasaltError('email_token_invalid', { data: { token: { code: 'validation_invalid_token', message: 'Invalid or expired token.' } } });

/** The principal of an auth record (for ending its sessions). */
function ownerPrincipal(c: Collection, id: string): Principal {
  return c.name === '_superusers' ? { kind: 'superuser', record: { id } } : { kind: 'record', collection: c.name, record: { id } };
}

/** Verification, password reset, email change, OTP sign-in and new-device notices. */
export class AuthEmailFlows {
  readonly #db: Database;
  readonly #records: RecordsService;
  readonly #auth: AuthService;
  readonly #audit: AuditLog;
  readonly #mailer: Mailer;
  readonly #logger: Logger;
  readonly #opts: AuthEmailOptions;
  readonly #tokens: EmailTokens;
  readonly #otps: OtpCodes;
  readonly #pending = new Set<Promise<void>>();
  /** The tail of the queue of token redemptions on this node (see {@link #redeem}). */
  #redeemQueue: Promise<unknown> = Promise.resolve();

  constructor(deps: { db: Database; records: RecordsService; auth: AuthService; audit: AuditLog; mailer: Mailer; logger: Logger }, opts: AuthEmailOptions) {
    this.#db = deps.db;
    this.#records = deps.records;
    this.#auth = deps.auth;
    this.#audit = deps.audit;
    this.#mailer = deps.mailer;
    this.#logger = deps.logger;
    this.#opts = { appName: opts.appName, appUrl: opts.appUrl.replace(/\/+$/, '') };
    this.#tokens = new EmailTokens(deps.db);
    this.#otps = new OtpCodes(deps.db);
    // Never awaited by the sign-in: the notice goes out in the background.
    deps.auth.onSignIn((e) => this.#noticeNewDevice(e));
  }

  /** True when an SMTP server is configured. */
  get mailAvailable(): boolean {
    return this.#mailer.available;
  }

  /** Wait for background sends (app shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Run `work` after the answer; log and swallow its failure. */
  #background(flow: string, work: () => Promise<void>): void {
    const p = (async () => {
      try {
        await work();
      } catch (e) {
        // The message of an SMTP or database error; never the token, code or SMTP password.
        this.#logger.error({ flow, err: { message: (e as Error)?.message, code: (e as { code?: unknown })?.code } }, 'auth email flow failed in the background');
      }
    })();
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  #collection(collection: string): Collection {
    return this.#auth.authCollection(collection);
  }

  #requireMail(): void {
    if (!this.#mailer.available) throw new BasaltError('mail_unavailable');
  }

  async #send(to: string, template: MailTemplate, values: Record<string, string>): Promise<void> {
    await this.#mailer.send(to, renderTemplate(template, { APP_NAME: this.#opts.appName, APP_URL: this.#opts.appUrl, EMAIL: to, ...values }));
  }

  /** Issue a token for `row` and mail it; audited as `action`. */
  async #mailToken(c: Collection, row: Record<string, unknown>, purpose: EmailTokenPurpose, to: string, ip: string, action: string, newEmail = ''): Promise<void> {
    const o = authOptions(c);
    const [ttl, template] = purpose === 'verification' ? [o.verificationToken.duration, o.verificationTemplate]
      : purpose === 'password_reset' ? [o.passwordResetToken.duration, o.resetPasswordTemplate]
        : [o.emailChangeToken.duration, o.confirmEmailChangeTemplate];
    const token = await this.#tokens.issue(purpose, c.id, { id: String(row.id), email: String(row.email ?? ''), tokenKey: String(row.tokenKey ?? '') }, ttl, newEmail);
    try {
      await this.#send(to, template, { TOKEN: token, ...(newEmail ? { NEW_EMAIL: newEmail } : {}) });
    } catch (e) {
      await this.#audit.record({ action, outcome: 'failure', actor: 'anonymous', target: `${c.name}/${String(row.id)}`, ip, details: { reason: 'send_failed' } });
      throw e;
    }
    await this.#audit.record({ action, outcome: 'success', actor: 'anonymous', target: `${c.name}/${String(row.id)}`, ip });
  }

  /** Audit a request whose mail was held back by the per-address quota (the caller got the usual answer). */
  async #quotaHeld(c: Collection, address: string, ip: string, action: string): Promise<void> {
    await this.#audit.record({ action, outcome: 'failure', actor: 'anonymous', target: `${c.name}:${address}`, ip, details: { reason: 'address_quota' } });
  }

  /**
   * `request-verification`: mail a verification token to an existing, unverified record. `send: false`
   * (the address's mail quota is used up): answer exactly the same, send nothing.
   */
  requestVerification(collection: string, email: unknown, ip: string, send = true): void {
    const c = this.#collection(collection);
    this.#requireMail();
    const address = emailInput('email', email);
    this.#background('request-verification', async () => {
      if (!send) return this.#quotaHeld(c, address, ip, 'auth.verification_request');
      const row = await this.#records.findRawBy(c.name, 'email', address);
      if (!row || row.verified === true || row.verified === 1) {
        await this.#audit.record({ action: 'auth.verification_request', outcome: 'failure', actor: 'anonymous', target: row ? `${c.name}/${String(row.id)}` : `${c.name}:${address}`, ip, details: { reason: row ? 'already_verified' : 'unknown_email' } });
        return;
      }
      // To the address as stored: the lookup ignores case, the mail goes where the account says.
      await this.#mailToken(c, row, 'verification', String(row.email), ip, 'auth.verification_request');
    });
  }

  /** A live token of `purpose` and the record it is still bound to; `email_token_invalid` otherwise. */
  async #grant(c: Collection, token: unknown, purpose: EmailTokenPurpose): Promise<{ grant: EmailTokenGrant; row: Record<string, unknown> }> {
    if (typeof token !== 'string' || token === '') throw new BasaltError('validation_failed', { data: { token: { code: 'validation_required', message: 'Cannot be blank.' } } });
    const grant = await this.#tokens.find(token, purpose, c.id);
    const row = grant ? await this.#records.findRawBy(c.name, 'id', grant.recordId) : undefined;
    if (!grant || !row || !EmailTokens.boundTo(grant, row)) throw tokenInvalid();
    return { grant, row };
  }

  /** Audit a failed confirmation (bad token, weak password…) and rethrow. */
  async #confirmFailed(e: unknown, c: Collection, action: string, ip: string, target?: string): Promise<never> {
    const code = e instanceof BasaltError ? e.code : 'internal';
    await this.#audit.record({ action, outcome: 'failure', actor: 'anonymous', target: target ?? c.name, ip, details: { reason: code } });
    throw e;
  }

  /**
   * Consume `grant` and write `values` to its record in one transaction, then check the token's binding
   * (record email and tokenKey) again, inside that transaction: `email_token_invalid`, and nothing
   * written, when another request used the token first or the record's email or password changed since
   * the token was looked up.
   *
   * Write first, check second: the write holds the record's row lock (PostgreSQL; SQLite has one
   * writer), so the committed record read afterwards (outside this transaction) is final — a change
   * committed before the write got the lock is seen and refused; one that comes later waits for us and
   * applies on top. Checking before the write would leave a window between the check and the write.
   *
   * The committed read takes a second database connection while the transaction holds one, so
   * redemptions run one at a time per node: concurrent ones can never hold every pooled connection
   * while waiting for another. (Confirmations are rare; the queue costs nothing noticeable.)
   */
  async #redeem(c: Collection, grant: EmailTokenGrant, values: Record<string, unknown> | undefined): Promise<void> {
    const run = this.#redeemQueue.then(() => this.#db.transaction(async (tx) => {
      if (!(await this.#tokens.consume(tx, grant))) throw tokenInvalid();
      if (!values) return;
      await this.#records.update(systemCtx(), c.name, grant.recordId, values, {}, tx);
      const committed = await this.#records.findRawBy(c.name, 'id', grant.recordId);
      if (!committed || !EmailTokens.boundTo(grant, committed)) throw tokenInvalid();
    }));
    this.#redeemQueue = run.catch(() => {});
    await run;
  }

  /** `confirm-verification`: mark the token's record verified. */
  async confirmVerification(collection: string, token: unknown, ip: string): Promise<void> {
    const c = this.#collection(collection);
    let target: string | undefined;
    try {
      const { grant, row } = await this.#grant(c, token, 'verification');
      target = `${c.name}/${grant.recordId}`;
      // The normal sign-up flow: the password chosen at sign-up stays (see docs/auth-email.md for the
      // squatting risk this leaves, and why OTP sign-in is different).
      await this.#redeem(c, grant, isVerified(row) ? undefined : { verified: true });
      await this.#audit.record({ action: 'auth.verified', outcome: 'success', actor: 'anonymous', target, ip });
    } catch (e) {
      await this.#confirmFailed(e, c, 'auth.verified', ip, target);
    }
  }

  /** `request-password-reset`: mail a reset token to an existing record (nothing with `send: false`, as above). */
  requestPasswordReset(collection: string, email: unknown, ip: string, send = true): void {
    const c = this.#collection(collection);
    this.#requireMail();
    const address = emailInput('email', email);
    this.#background('request-password-reset', async () => {
      if (!send) return this.#quotaHeld(c, address, ip, 'auth.password_reset_request');
      const row = await this.#records.findRawBy(c.name, 'email', address);
      if (!row) {
        await this.#audit.record({ action: 'auth.password_reset_request', outcome: 'failure', actor: 'anonymous', target: `${c.name}:${address}`, ip, details: { reason: 'unknown_email' } });
        return;
      }
      await this.#mailToken(c, row, 'password_reset', String(row.email), ip, 'auth.password_reset_request');
    });
  }

  /**
   * `confirm-password-reset`: set the new password through the records service (length, breached and
   * common password screening, hashing), which rotates the tokenKey; then end every session. A reset
   * also proves the address, so an unverified record becomes verified (PocketBase).
   */
  async confirmPasswordReset(collection: string, token: unknown, password: unknown, passwordConfirm: unknown, ip: string): Promise<void> {
    const c = this.#collection(collection);
    let target: string | undefined;
    try {
      const { grant, row } = await this.#grant(c, token, 'password_reset');
      target = `${c.name}/${grant.recordId}`;
      const pw = required('password', password, 1024);
      if (passwordConfirm !== pw) throw new BasaltError('validation_failed', { data: { passwordConfirm: { code: 'validation_values_mismatch', message: 'Values don\'t match.' } } });
      await this.#redeem(c, grant, { password: pw, passwordConfirm: pw, ...(isVerified(row) ? {} : { verified: true }) });
      await this.#auth.logout(ownerPrincipal(c, grant.recordId), undefined, true);
      await this.#audit.record({ action: 'auth.password_reset', outcome: 'success', actor: 'anonymous', target, ip });
    } catch (e) {
      await this.#confirmFailed(e, c, 'auth.password_reset', ip, target);
    }
  }

  /**
   * `request-email-change` (signed in to this collection): mail a confirmation token to the NEW address.
   * An address another record of the collection has is refused at once (sign-up reveals it too).
   * Nothing is sent with `send: false` (the new address's mail quota is used up).
   */
  async requestEmailChange(collection: string, principal: Principal, newEmail: unknown, ip: string, send = true): Promise<void> {
    const c = this.#collection(collection);
    if (principal.kind === 'anonymous') throw new BasaltError('unauthorized');
    const own = principal.kind === 'superuser' ? c.name === '_superusers' : principal.kind === 'record' && principal.collection === c.name;
    if (!own) throw new BasaltError('forbidden', { message: 'Sign in to this collection to change its email.' });
    this.#requireMail();
    const address = emailInput('newEmail', newEmail);
    const id = String(principal.record.id ?? '');
    const row = await this.#records.findRawBy(c.name, 'id', id);
    if (!row) throw new BasaltError('unauthorized');
    if (address === row.email) throw new BasaltError('validation_failed', { data: { newEmail: { code: 'validation_same_email', message: 'This is already the account\'s email.' } } });
    // Case-insensitive: another record's `Alice@…` blocks `alice@…`; the account's own address in
    // another case is a change of spelling, allowed.
    const holder = await this.#records.findRawBy(c.name, 'email', address);
    if (holder && String(holder.id) !== id) throw new BasaltError('validation_failed', { data: { newEmail: { code: 'validation_not_unique', message: 'The value must be unique.' } } });
    this.#background('request-email-change', async () => {
      if (!send) return this.#quotaHeld(c, address, ip, 'auth.email_change_request');
      await this.#mailToken(c, row, 'email_change', address, ip, 'auth.email_change_request', address);
    });
  }

  /**
   * `confirm-email-change`: with the token from the new address and the account's current password,
   * change the email, mark it verified and end every session (the tokenKey rotates with the email).
   */
  async confirmEmailChange(collection: string, token: unknown, password: unknown, ip: string, guard?: PasswordAttemptGuard): Promise<void> {
    const c = this.#collection(collection);
    let target: string | undefined;
    try {
      const { grant, row } = await this.#grant(c, token, 'email_change');
      target = `${c.name}/${grant.recordId}`;
      const pw = required('password', password, 1024);
      await guard?.before(c, String(row.email ?? ''));
      if (!(typeof row.password === 'string' && (await verifyPassword(pw, row.password)))) {
        await guard?.failed();
        throw new BasaltError('validation_failed', { data: { password: { code: 'validation_invalid_password', message: 'Invalid password.' } } });
      }
      await this.#redeem(c, grant, { email: grant.newEmail, verified: true });
      await this.#auth.logout(ownerPrincipal(c, grant.recordId), undefined, true);
      await this.#audit.record({ action: 'auth.email_change', outcome: 'success', actor: 'anonymous', target, ip });
    } catch (e) {
      await this.#confirmFailed(e, c, 'auth.email_change', ip, target);
    }
  }

  /** `otp.enabled` of an auth collection, else `otp_disabled`. */
  #otpCollection(collection: string): Collection {
    const c = this.#collection(collection);
    if (!authOptions(c).otp.enabled) throw new BasaltError('otp_disabled');
    return c;
  }

  /**
   * `request-otp`: answer an OTP id at once (a fresh random one for every address, known or not) and,
   * in the background, store and mail a code for an existing record (nothing with `send: false`).
   */
  requestOtp(collection: string, email: unknown, ip: string, send = true): { otpId: string } {
    const c = this.#otpCollection(collection);
    this.#requireMail();
    const address = emailInput('email', email);
    const otpId = this.#otps.newId();
    this.#background('request-otp', async () => {
      if (!send) return this.#quotaHeld(c, address, ip, 'auth.otp_request');
      const o = authOptions(c).otp;
      const row = await this.#records.findRawBy(c.name, 'email', address);
      if (!row) {
        await this.#otps.storeNothing();
        await this.#audit.record({ action: 'auth.otp_request', outcome: 'failure', actor: 'anonymous', target: `${c.name}:${address}`, ip, details: { reason: 'unknown_email' } });
        return;
      }
      const code = otpCode(o.length);
      // Bound to (and mailed to) the address as stored; the lookup ignored case.
      const to = String(row.email);
      await this.#otps.store(otpId, c.id, String(row.id), to, code, o.duration);
      const target = `${c.name}/${String(row.id)}`;
      try {
        await this.#send(to, o.emailTemplate, { OTP: code });
      } catch (e) {
        await this.#audit.record({ action: 'auth.otp_request', outcome: 'failure', actor: 'anonymous', target, ip, details: { reason: 'send_failed' } });
        throw e;
      }
      await this.#audit.record({ action: 'auth.otp_request', outcome: 'success', actor: 'anonymous', target, ip });
    });
    return { otpId };
  }

  /**
   * `auth-with-otp`, first half: check the code (single use, counted tries) and answer the record to
   * sign in, marked verified when the code went to its current address (PocketBase). The route then
   * finishes the sign-in with `AuthService.signIn(…, ['otp'], …)`. `otp_invalid` for every failure.
   *
   * An account that was unverified until this code proved the address may have been registered by
   * someone else (email squatting: an attacker signs up the victim's address with a password of their
   * own and keeps a session). So, before the new session is issued, its password is replaced by one
   * nobody knows — which rotates the tokenKey, ending every access and refresh token — and every
   * session is revoked. The owner sets a password of their own with a password reset.
   */
  async checkOtp(collection: string, otpId: unknown, code: unknown): Promise<{ collection: Collection; row: Record<string, unknown> }> {
    const c = this.#otpCollection(collection);
    const problems: Record<string, { code: string; message: string }> = {};
    if (typeof otpId !== 'string' || otpId === '' || otpId.length > 255) problems.otpId = { code: 'validation_required', message: 'Cannot be blank.' };
    if (typeof code !== 'string' || code === '' || code.length > 71) problems.password = { code: 'validation_required', message: 'Cannot be blank.' };
    if (Object.keys(problems).length) throw new BasaltError('validation_failed', { data: problems });
    const grant = await this.#otps.check(otpId, c.id, code);
    let row = grant ? await this.#records.findRawBy(c.name, 'id', grant.recordId) : undefined;
    // A code mailed to an address the account no longer has proves nothing about the account.
    if (!grant || !row || row.email !== grant.sentTo) throw new BasaltError('otp_invalid');
    if (!isVerified(row)) {
      await this.#verifyByProof(c, grant.recordId);
      row = (await this.#records.findRawBy(c.name, 'id', grant.recordId)) ?? row;
    }
    return { collection: c, row };
  }

  /**
   * Mark an unverified record verified on a proof of the address that is not the sign-up's own flow
   * (an OTP): replace its password by one nobody knows and end every session, in this order, before the
   * caller issues a new session (see {@link checkOtp}). The OAuth linking proof does the same in
   * oauth-service.ts.
   */
  async #verifyByProof(c: Collection, recordId: string): Promise<void> {
    const pw = unknownPassword();
    // A password change rotates the tokenKey: every access and refresh token of the record dies with it.
    await this.#records.update(systemCtx(), c.name, recordId, { verified: true, password: pw, passwordConfirm: pw });
    await this.#auth.logout(ownerPrincipal(c, recordId), undefined, true);
    await this.#audit.record({ action: 'auth.verified', outcome: 'success', actor: 'anonymous', target: `${c.name}/${recordId}`, details: { via: 'otp', passwordReplaced: true } });
  }

  /**
   * Mail the owner of a record that a provider account was linked to it (when SMTP is configured): in
   * the background, failures logged without secrets.
   */
  noticeIdentityLinked(c: Collection, recordId: string, provider: string, client: ClientInfo): void {
    if (!this.#mailer.available) return;
    this.#background('identity-linked-notice', async () => {
      const row = await this.#records.findRawBy(c.name, 'id', recordId);
      const to = typeof row?.email === 'string' ? row.email : '';
      if (!isMailAddress(to)) return;
      await this.#send(to, IDENTITY_LINKED_TEMPLATE, { PROVIDER: provider.slice(0, 40), DEVICE: clientSummary(client.userAgent, client.ip) });
    });
  }

  /** After a sign-in: mail a notice when it came from a device (user agent) the record never used before. */
  #noticeNewDevice(e: SignInEvent): void {
    if (!this.#mailer.available) return;
    const alert = authOptions(e.collection).authAlert;
    const to = typeof e.row.email === 'string' ? e.row.email : '';
    if (!alert.enabled || !to) return;
    this.#background('new-device-notice', async () => {
      const seen = await this.#auth.deviceHistory(e);
      if (seen.firstSignIn || seen.knownDevice) return;
      // Never the raw User-Agent: it is the signing-in party's text (see client-summary.ts).
      await this.#send(to, alert.emailTemplate, { DEVICE: clientSummary(e.client.userAgent, e.client.ip) });
    });
  }
}
