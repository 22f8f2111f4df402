/**
 * Regression (security review, MEDIUM): a stolen access token plus a known password must not take over
 * the second factor — no removing the authenticator, regenerating recovery codes, enrolling another
 * authenticator, planting a passkey or deleting one with the password alone. An account that holds a
 * second factor proves such changes with it (TOTP code, passkey assertion, or a recovery code for
 * removals); a recent sign-in stands in only when it used the factor. Accounts without a second factor
 * keep the old rule (recent sign-in or password).
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { SoftAuthenticator, type AssertionJson, type CreationOptions, type RequestOptions } from '../support/soft-authenticator.ts';
import { loadConfig } from '../../src/app/index.ts';
import { totpCode } from '../../src/auth/mfa/index.ts';

const password = 'correct horse 1';
const origin = 'https://app.example.test';
const now = () => Date.now() / 1000;

type Answer = { statusCode: number; body: string; json(): unknown };
const codeOf = (res: Answer) => (res.json() as { code: string }).code;

for (const dialect of dialects()) {
  describe(`MFA factor changes need the factor, not the password (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: token } : {} });

    before(async () => {
      const rateLimits = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 };
      t = await startTestApp(dialect, { rateLimits });
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '', fields: [],
        totp: { enabled: true }, passkeys: { enabled: true, rpId: 'app.example.test', origins: [origin] },
      });
    });
    after(async () => t.dispose());

    async function signUp(email: string): Promise<{ id: string; token: string }> {
      const c = await inject('POST', '/api/collections/users/records', { email, password, passwordConfirm: password });
      assert.equal(c.statusCode, 200, c.body);
      return { id: (c.json() as { id: string }).id, token: await passwordToken(email) };
    }
    async function passwordToken(email: string): Promise<string> {
      const s = await inject('POST', '/api/collections/users/auth-with-password', { identity: email, password });
      assert.equal(s.statusCode, 200, s.body);
      return (s.json() as { token: string }).token;
    }
    /** Age the token's session past the recent-sign-in window: a token stolen an hour ago. */
    async function stale(token: string): Promise<string> {
      const sid = (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { sid: string }).sid;
      await t.app.db.run('UPDATE _sessions SET created = ? WHERE id = ?', [new Date(Date.now() - 3_600_000).toISOString().replace('T', ' '), sid]);
      return token;
    }
    const freshSteps = (recordId: string) => t.app.db.run('UPDATE _mfa_totp SET last_step = 0 WHERE record_id = ?', [recordId]);
    async function enrolTotp(id: string, token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
      const e = await inject('POST', '/api/collections/users/totp/enroll', {}, token);
      assert.equal(e.statusCode, 200, e.body);
      const { secret } = e.json() as { secret: string };
      const c = await inject('POST', '/api/collections/users/totp/confirm', { code: await totpCode(secret, now()) }, token);
      assert.equal(c.statusCode, 200, c.body);
      await freshSteps(id);
      return { secret, recoveryCodes: (c.json() as { recoveryCodes: string[] }).recoveryCodes };
    }
    async function registerPasskey(token: string, authenticator: SoftAuthenticator, proof: Record<string, unknown> = {}): Promise<string> {
      const o = await inject('POST', '/api/collections/users/passkeys/options', proof, token);
      assert.equal(o.statusCode, 200, o.body);
      const r = await inject('POST', '/api/collections/users/passkeys', { credential: authenticator.register(o.json() as CreationOptions) }, token);
      assert.equal(r.statusCode, 200, r.body);
      return (r.json() as { id: string }).id;
    }
    async function passkeyProof(token: string, authenticator: SoftAuthenticator): Promise<AssertionJson> {
      const o = await inject('POST', '/api/collections/users/passkeys/reauth-options', {}, token);
      assert.equal(o.statusCode, 200, o.body);
      return authenticator.assert(o.json() as RequestOptions);
    }
    const status = async (token: string) => (await inject('GET', '/api/collections/users/mfa', undefined, token)).json() as { totp: { enabled: boolean }; recoveryCodes: { remaining: number }; passkeys: number };

    it('a stolen token plus the password cannot remove TOTP, regenerate codes, or add a passkey', async () => {
      const victim = await signUp('victim@example.com');
      const { secret } = await enrolTotp(victim.id, victim.token);
      const stolen = await stale(victim.token);
      const attempts: [string, 'POST' | 'DELETE', string][] = [
        ['mfa.totp_removed', 'DELETE', '/api/collections/users/totp'],
        ['mfa.recovery_regenerated', 'POST', '/api/collections/users/recovery-codes'],
        ['mfa.passkey_added', 'POST', '/api/collections/users/passkeys/options'],
      ];
      for (const [, method, url] of attempts) {
        const res = await inject(method, url, { password }, stolen);
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.equal(codeOf(res), 'factor_proof_required');
        // The answer says which proofs would do, never whether the password was right.
        assert.ok(((res.json() as { data: { accepted: string[] } }).data.accepted).includes('code'));
      }
      // Enrolling another authenticator is refused too (one is confirmed: 409 before any proof).
      assert.equal((await inject('POST', '/api/collections/users/totp/enroll', { password }, stolen)).statusCode, 409);
      const s = await status(stolen);
      assert.deepEqual([s.totp.enabled, s.recoveryCodes.remaining, s.passkeys], [true, 10, 0]);
      // A recent sign-in with the password alone is no proof of the factor either.
      const recent = await passwordToken('victim@example.com');
      assert.equal(codeOf(await inject('POST', '/api/collections/users/passkeys/options', {}, recent)), 'factor_proof_required');
      assert.equal(codeOf(await inject('POST', '/api/collections/users/recovery-codes', { password }, recent)), 'factor_proof_required');
      // The attempts are audited, without the password.
      const audit = await t.app.audit.list(0, 10_000);
      for (const [action] of attempts) {
        assert.ok(audit.some((e) => e.action === action && e.outcome === 'failure' && (e.details as { reason?: string }).reason === 'factor_required'), action);
      }
      assert.ok(!JSON.stringify(audit).includes(password));
      // The owner, with the authenticator, still can.
      await freshSteps(victim.id);
      const regen = await inject('POST', '/api/collections/users/recovery-codes', { code: await totpCode(secret, now()) }, stolen);
      assert.equal(regen.statusCode, 200, regen.body);
    });

    it('the owner proves changes with the factor: TOTP code, passkey assertion, or a recovery code when the authenticator is lost', async () => {
      const owner = await signUp('owner@example.com');
      const { secret, recoveryCodes } = await enrolTotp(owner.id, owner.token);
      const token = await stale(owner.token);
      const wrong = await inject('POST', '/api/collections/users/passkeys/options', { code: '000000' }, token);
      assert.equal(codeOf(wrong), 'auth_failed');
      // A TOTP code plants a passkey; that passkey then proves the next change.
      const laptop = new SoftAuthenticator({ origin });
      await registerPasskey(token, laptop, { code: await totpCode(secret, now()) });
      const phone = new SoftAuthenticator({ origin });
      await registerPasskey(token, phone, { passkey: await passkeyProof(token, laptop) });
      // A recovery code is for removals only, not for adding a factor.
      const byRecoveryAdd = await inject('POST', '/api/collections/users/passkeys/options', { recoveryCode: recoveryCodes[0] }, token);
      assert.equal(codeOf(byRecoveryAdd), 'factor_proof_required');
      // The authenticator is lost: a recovery code removes it (and is spent).
      const removed = await inject('DELETE', '/api/collections/users/totp', { recoveryCode: recoveryCodes[0] }, token);
      assert.equal(removed.statusCode, 204, removed.body);
      assert.equal((await status(token)).totp.enabled, false);
      // Passkeys still guard the account: the password is still no proof, a passkey is.
      assert.equal(codeOf(await inject('POST', '/api/collections/users/totp/enroll', { password }, token)), 'factor_proof_required');
      const again = await inject('POST', '/api/collections/users/totp/enroll', { passkey: await passkeyProof(token, phone) }, token);
      assert.equal(again.statusCode, 200, again.body);
    });

    it('deleting a passkey needs a recent sign-in with a factor or a fresh factor proof', async () => {
      const owner = await signUp('keys@example.com');
      const key = new SoftAuthenticator({ origin });
      const passkeyId = await registerPasskey(owner.token, key);
      const token = await stale(owner.token);
      const url = `/api/collections/users/passkeys/${passkeyId}`;
      assert.equal(codeOf(await inject('DELETE', url, {}, token)), 'factor_proof_required');
      assert.equal(codeOf(await inject('DELETE', url, { password }, token)), 'factor_proof_required');
      // A passwordless sign-in answer is no proof (its challenge was for a sign-in, not this record's change)...
      const signInOptions = (await inject('POST', '/api/collections/users/auth-with-passkey/options', {})).json() as RequestOptions;
      assert.equal(codeOf(await inject('DELETE', url, { passkey: key.assert(signInOptions) }, token)), 'auth_failed');
      // ... and a re-authentication answer is no sign-in.
      const reauth = await passkeyProof(token, key);
      assert.equal(codeOf(await inject('POST', '/api/collections/users/auth-with-passkey', { credential: reauth })), 'auth_failed');
      // Another account's passkey cannot answer this account's challenge.
      const other = await signUp('other@example.com');
      const otherKey = new SoftAuthenticator({ origin });
      await registerPasskey(other.token, otherKey);
      const options = (await inject('POST', '/api/collections/users/passkeys/reauth-options', {}, token)).json() as RequestOptions;
      assert.equal(codeOf(await inject('DELETE', url, { passkey: otherKey.assert({ ...options, allowCredentials: [] }) }, token)), 'auth_failed');
      assert.equal((await status(token)).passkeys, 1);
      // A recent passwordless (multi-factor) sign-in stands in for the proof.
      const signIn = await inject('POST', '/api/collections/users/auth-with-passkey', { credential: key.assert((await inject('POST', '/api/collections/users/auth-with-passkey/options', {})).json() as RequestOptions) });
      assert.equal(signIn.statusCode, 200, signIn.body);
      const mfaToken = (signIn.json() as { token: string }).token;
      assert.equal((await inject('DELETE', url, {}, mfaToken)).statusCode, 204);
      assert.equal((await status(token)).passkeys, 0);
      // Unknown ids answer 404 before any proof.
      assert.equal((await inject('DELETE', url, {}, token)).statusCode, 404);
    });

    it('without a second factor, the password or a recent sign-in still proves a change', async () => {
      const plain = await signUp('plain@example.com');
      assert.equal((await inject('POST', '/api/collections/users/passkeys/options', {}, plain.token)).statusCode, 200);
      const token = await stale(plain.token);
      assert.equal(codeOf(await inject('POST', '/api/collections/users/totp/enroll', {}, token)), 'reauthentication_required');
      assert.equal(codeOf(await inject('POST', '/api/collections/users/totp/enroll', { password: 'wrong password' }, token)), 'auth_failed');
      assert.equal((await inject('POST', '/api/collections/users/totp/enroll', { password }, token)).statusCode, 200);
      // A pending (unconfirmed) authenticator is no factor yet: the password removes it.
      assert.equal((await inject('DELETE', '/api/collections/users/totp', { password }, token)).statusCode, 204);
    });
  });
}
