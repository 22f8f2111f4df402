/**
 * Multi-factor authentication over HTTP: the MFA policy (a lone first factor answers 401 with `mfaId`,
 * PocketBase's flow, checked with the `pocketbase` SDK too), TOTP enrolment / confirmation / removal,
 * single-use codes (also under concurrency), wrong, expired, foreign and same-method `mfaId`s, recovery
 * codes, `mfa.rule`, superuser MFA, the secret sealed at rest, and the audit trail.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';
import { totpCode, totpAad } from '../../src/auth/mfa/index.ts';
import { SecretBox, parseMasterKeys } from '../../src/secrets/index.ts';
import { rotateSealedValues } from '../../src/records/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const password = 'correct horse 1';

/** The amr claim of an access token, sorted. */
function amrOf(token: string): string[] {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { amr?: string[] };
  return [...(claims.amr ?? [])].sort();
}

const now = () => Date.now() / 1000;

for (const dialect of dialects()) {
  describe(`MFA: policy, TOTP and recovery codes (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: token } : {} });

    before(async () => {
      // Sign-in quotas off: this suite signs in far more often than a person would.
      const rateLimits = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 };
      t = await startTestApp(dialect, { rateLimits });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', fields: [], totp: { enabled: true, issuer: 'Basalt Test' } });
      await createCollection(t, { name: 'members', type: 'auth', createRule: '', fields: [] });
    });
    after(async () => t.dispose());

    async function signUp(email: string, collection = 'users'): Promise<string> {
      const res = await inject('POST', `/api/collections/${collection}/records`, { email, password, passwordConfirm: password });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { id: string }).id;
    }
    const passwordSignIn = (email: string, mfaId?: string, collection = 'users') =>
      inject('POST', `/api/collections/${collection}/auth-with-password`, { identity: email, password, ...(mfaId ? { mfaId } : {}) });
    const withTotp = (body: Record<string, unknown>, collection = 'users') => inject('POST', `/api/collections/${collection}/auth-with-totp`, body);

    /** A first factor's mfaId (MFA must be on). */
    async function mfaIdFor(email: string, collection = 'users'): Promise<string> {
      const res = await passwordSignIn(email, undefined, collection);
      assert.equal(res.statusCode, 401, res.body);
      const body = res.json() as { mfaId?: string; code: string };
      assert.equal(body.code, 'mfa_required');
      assert.equal(typeof body.mfaId, 'string');
      return body.mfaId!;
    }

    /** Sign up (MFA still off), enrol and confirm TOTP. */
    async function enrolled(email: string, collection = 'users'): Promise<{ id: string; token: string; secret: string; recoveryCodes: string[] }> {
      const id = await signUp(email, collection);
      const signIn = await passwordSignIn(email, undefined, collection);
      assert.equal(signIn.statusCode, 200, signIn.body);
      const token = (signIn.json() as { token: string }).token;
      const e = await inject('POST', `/api/collections/${collection}/totp/enroll`, {}, token);
      assert.equal(e.statusCode, 200, e.body);
      const { secret } = e.json() as { secret: string };
      const c = await inject('POST', `/api/collections/${collection}/totp/confirm`, { code: await totpCode(secret, now()) }, token);
      assert.equal(c.statusCode, 200, c.body);
      await freshSteps(id);
      return { id, token, secret, ...(c.json() as { recoveryCodes: string[] }) };
    }

    /** Forget the last accepted time step, so the current code works again (tests run faster than 30 s steps). */
    async function freshSteps(recordId: string): Promise<void> {
      await t.app.db.run('UPDATE _mfa_totp SET last_step = 0 WHERE record_id = ?', [recordId]);
    }

    const setMfa = async (mfa: Record<string, unknown>, collection = 'users', token = t.superuserToken) => {
      const res = await inject('PATCH', `/api/collections/${collection}`, { mfa }, token);
      assert.equal(res.statusCode, 200, res.body);
    };

    let alice: Awaited<ReturnType<typeof enrolled>>;
    let bob: Awaited<ReturnType<typeof enrolled>>;

    it('enrolment: otpauth URI for a QR code, pending until a code confirms it, recovery codes once', async () => {
      await signUp('alice@example.com');
      const token = ((await passwordSignIn('alice@example.com')).json() as { token: string }).token;
      const e = await inject('POST', '/api/collections/users/totp/enroll', {}, token);
      assert.equal(e.statusCode, 200, e.body);
      const { secret, otpauthUri } = e.json() as { secret: string; otpauthUri: string };
      assert.match(secret, /^[A-Z2-7]{32}$/);
      const uri = new URL(otpauthUri);
      assert.equal(uri.protocol, 'otpauth:');
      assert.equal(uri.host, 'totp');
      assert.equal(decodeURIComponent(uri.pathname), '/Basalt Test:alice@example.com');
      assert.ok(otpauthUri.startsWith('otpauth://totp/Basalt%20Test:alice%40example.com?'), otpauthUri);
      assert.equal(uri.searchParams.get('secret'), secret);
      assert.equal(uri.searchParams.get('issuer'), 'Basalt Test');

      let status = (await inject('GET', '/api/collections/users/mfa', undefined, token)).json() as { totp: { enabled: boolean; pending: boolean } };
      assert.deepEqual(status.totp, { enabled: false, pending: true });
      const wrong = await inject('POST', '/api/collections/users/totp/confirm', { code: (Number(await totpCode(secret, now())) ^ 1).toString().padStart(6, '0') }, token);
      assert.equal(wrong.statusCode, 400);
      assert.equal((wrong.json() as { code: string }).code, 'auth_failed');

      const ok = await inject('POST', '/api/collections/users/totp/confirm', { code: await totpCode(secret, now()) }, token);
      assert.equal(ok.statusCode, 200, ok.body);
      const { recoveryCodes } = ok.json() as { recoveryCodes: string[] };
      assert.equal(recoveryCodes.length, 10);
      assert.equal(new Set(recoveryCodes).size, 10);
      for (const code of recoveryCodes) assert.match(code, /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
      status = (await inject('GET', '/api/collections/users/mfa', undefined, token)).json() as typeof status & { recoveryCodes: { remaining: number } };
      assert.deepEqual(status, { totp: { enabled: true, pending: false }, recoveryCodes: { remaining: 10 }, passkeys: 0 });

      // A confirmed authenticator is not replaced by a new enrolment; removing it needs a proof first.
      const again = await inject('POST', '/api/collections/users/totp/enroll', {}, token);
      assert.equal(again.statusCode, 409);
      const id = (await t.app.records.findRawBy('users', 'email', 'alice@example.com'))!.id as string;
      await freshSteps(id);
      alice = { id, token, secret, recoveryCodes };
    });

    it('the TOTP secret is stored sealed, bound to its record', async () => {
      const row = await t.app.db.get<{ secret: string; collection_id: string; record_id: string }>('SELECT secret, collection_id, record_id FROM _mfa_totp WHERE record_id = ?', [alice.id]);
      assert.ok(row);
      assert.ok(row.secret.startsWith('bse1.'));
      assert.ok(!row.secret.includes(alice.secret));
      assert.equal(t.app.secrets.open(row.secret, totpAad(row.collection_id, row.record_id)), alice.secret);
      assert.throws(() => t.app.secrets.open(row.secret, totpAad(row.collection_id, 'someoneelse1234')), { code: 'secret_unreadable' });
    });

    it('key rotation (`basalt keys rotate`) re-wraps TOTP secrets', async () => {
      const current = parseMasterKeys(readFileSync(join(t.app.config.dataDir, 'encryption.key'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean));
      const newKey = { id: 'rotated', key: randomBytes(32) };
      const rotated = new SecretBox([newKey, ...current]);
      assert.equal((await rotateSealedValues(t.app.db, t.app.registry, rotated)).unreadable, 0);
      const row = await t.app.db.get<{ secret: string; collection_id: string; record_id: string }>('SELECT secret, collection_id, record_id FROM _mfa_totp WHERE record_id = ?', [alice.id]);
      assert.equal(row!.secret.split('.')[1], 'rotated');
      assert.equal(rotated.open(row!.secret, totpAad(row!.collection_id, row!.record_id)), alice.secret);
      // The running app only knows the old key: wrap it back for the rest of the suite.
      assert.equal((await rotateSealedValues(t.app.db, t.app.registry, new SecretBox([...current, newKey]))).unreadable, 0);
    });

    it('auth-methods reports mfa {enabled, duration}, totp and passkeys', async () => {
      let m = (await inject('GET', '/api/collections/users/auth-methods')).json() as Record<string, { enabled: boolean; duration?: number }>;
      assert.deepEqual(m.mfa, { enabled: false, duration: 1800 });
      assert.deepEqual(m.totp, { enabled: true });
      assert.deepEqual(m.passkeys, { enabled: false });
      await setMfa({ enabled: true, duration: 600 });
      m = (await inject('GET', '/api/collections/users/auth-methods')).json() as typeof m;
      assert.deepEqual(m.mfa, { enabled: true, duration: 600 });
    });

    it('a lone first factor answers 401 with mfaId and issues no token', async () => {
      const res = await passwordSignIn('alice@example.com');
      assert.equal(res.statusCode, 401);
      const body = res.json() as Record<string, unknown>;
      assert.equal(body.code, 'mfa_required');
      assert.equal(typeof body.mfaId, 'string');
      assert.equal(body.token, undefined);
      assert.match(String(res.headers['content-type']), /problem\+json/);
      // A wrong password is still a plain failure: no mfaId for it.
      const wrong = await inject('POST', '/api/collections/users/auth-with-password', { identity: 'alice@example.com', password: 'not the password' });
      assert.equal(wrong.statusCode, 400);
      assert.equal((wrong.json() as { mfaId?: string }).mfaId, undefined);
    });

    it('a TOTP code completes the sign-in: amr = pwd + otp + mfa, kept across refreshes', async () => {
      const mfaId = await mfaIdFor('alice@example.com');
      const res = await withTotp({ mfaId, code: await totpCode(alice.secret, now()) });
      assert.equal(res.statusCode, 200, res.body);
      const b = res.json() as { token: string; refreshToken: string; record: { id: string } };
      assert.equal(b.record.id, alice.id);
      assert.deepEqual(amrOf(b.token), ['mfa', 'otp', 'pwd']);
      const r = await inject('POST', '/api/collections/users/auth-refresh', { refreshToken: b.refreshToken });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(amrOf((r.json() as { token: string }).token), ['mfa', 'otp', 'pwd']);
      // The mfaId was consumed.
      await freshSteps(alice.id);
      const again = await withTotp({ mfaId, code: await totpCode(alice.secret, now()) });
      assert.equal(again.statusCode, 400);
      assert.equal((again.json() as { code: string }).code, 'mfa_invalid');
    });

    it('the pocketbase SDK finds mfaId on the error and can send it as a query parameter', async () => {
      const url = await t.app.listen();
      const pb = new PocketBase(url);
      let mfaId: string | undefined;
      try {
        await pb.collection('users').authWithPassword('alice@example.com', password);
        assert.fail('expected MFA');
      } catch (e) {
        assert.ok(e instanceof ClientResponseError);
        assert.equal(e.status, 401);
        mfaId = (e.response as { mfaId?: string }).mfaId;
      }
      assert.ok(mfaId);
      await freshSteps(alice.id);
      const out = await pb.send('/api/collections/users/auth-with-totp', { method: 'POST', body: { code: await totpCode(alice.secret, now()) }, query: { mfaId } }) as { token: string };
      assert.deepEqual(amrOf(out.token), ['mfa', 'otp', 'pwd']);
    });

    it('a code works once: the same code in the same period is refused', async () => {
      await freshSteps(alice.id);
      const code = await totpCode(alice.secret, now());
      const first = await withTotp({ mfaId: await mfaIdFor('alice@example.com'), code });
      assert.equal(first.statusCode, 200, first.body);
      const second = await withTotp({ mfaId: await mfaIdFor('alice@example.com'), code });
      assert.equal(second.statusCode, 400);
      assert.equal((second.json() as { code: string }).code, 'auth_failed');
    });

    it('concurrent logins with one TOTP code: exactly one succeeds', async () => {
      for (let round = 0; round < 3; round++) {
        await freshSteps(alice.id);
        const mfaIds = await Promise.all(Array.from({ length: 4 }, () => mfaIdFor('alice@example.com')));
        const code = await totpCode(alice.secret, now());
        const answers = await Promise.all(mfaIds.map((mfaId) => withTotp({ mfaId, code })));
        assert.equal(answers.filter((a) => a.statusCode === 200).length, 1, answers.map((a) => a.statusCode).join(','));
        for (const a of answers.filter((x) => x.statusCode !== 200)) assert.equal((a.json() as { code: string }).code, 'auth_failed');
      }
      // One mfaId, two different valid codes (this step and the next) at once: the mfaId still works once.
      await freshSteps(alice.id);
      const mfaId = await mfaIdFor('alice@example.com');
      const answers = await Promise.all([withTotp({ mfaId, code: await totpCode(alice.secret, now()) }), withTotp({ mfaId, code: await totpCode(alice.secret, now() + 30) })]);
      assert.equal(answers.filter((a) => a.statusCode === 200).length, 1, answers.map((a) => a.body).join(' | '));
    });

    it('wrong, expired, foreign and same-method mfaIds are refused', async () => {
      bob = await enrolledWithMfaOn('bob@example.com');
      await freshSteps(alice.id);
      const code = () => totpCode(alice.secret, now());
      // Unknown and malformed.
      for (const mfaId of ['x'.repeat(32), 42, '', null]) {
        const res = await withTotp({ mfaId, code: await code() });
        assert.equal(res.statusCode, 400, String(mfaId));
        assert.equal((res.json() as { code: string }).code, 'mfa_invalid');
      }
      // Expired.
      const expired = await mfaIdFor('alice@example.com');
      await t.app.db.run('UPDATE _mfas SET expires = ? WHERE id = ?', ['2000-01-01 00:00:00.000Z', expired]);
      assert.equal((await withTotp({ mfaId: expired, code: await code() })).statusCode, 400);
      // Another record's mfaId with this record's password: refused, and bob's challenge survives.
      const bobsMfaId = await mfaIdFor('bob@example.com');
      const foreign = await passwordSignIn('alice@example.com', bobsMfaId);
      assert.equal(foreign.statusCode, 400);
      assert.equal((foreign.json() as { code: string }).code, 'mfa_invalid');
      // Another collection's endpoint.
      const otherCollection = await withTotp({ mfaId: bobsMfaId, code: await totpCode(bob.secret, now()) }, '_superusers');
      assert.equal(otherCollection.statusCode, 403); // TOTP is not enabled for _superusers (yet)
      // The same method twice: password + password.
      const same = await passwordSignIn('bob@example.com', bobsMfaId);
      assert.equal(same.statusCode, 400);
      assert.equal((same.json() as { code: string }).code, 'mfa_invalid');
      // ... and the challenge is still there for a real second factor.
      const done = await withTotp({ mfaId: bobsMfaId, code: await totpCode(bob.secret, now()) });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal((done.json() as { record: { id: string } }).record.id, bob.id);
    });

    /** Sign up and enrol while MFA is on: switch the rule to spare the new user for a moment. */
    async function enrolledWithMfaOn(email: string): Promise<Awaited<ReturnType<typeof enrolled>>> {
      await setMfa({ rule: `email != "${email}"` });
      try {
        return await enrolled(email);
      } finally {
        await setMfa({ rule: '' });
      }
    }

    it('mfa.rule limits the policy to matching records', async () => {
      await signUp('carol@example.com');
      assert.equal((await passwordSignIn('carol@example.com')).statusCode, 401);
      await setMfa({ rule: 'email != "carol@example.com"' });
      const res = await passwordSignIn('carol@example.com');
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(amrOf((res.json() as { token: string }).token), ['pwd']);
      assert.equal((await passwordSignIn('alice@example.com')).statusCode, 401);
      await setMfa({ rule: '' });
    });

    it('recovery codes: a second factor once each, count visible, regenerating kills the old set', async () => {
      const [c1, c2, c3] = alice.recoveryCodes;
      const ok = await withTotp({ mfaId: await mfaIdFor('alice@example.com'), recoveryCode: c1.toUpperCase() });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(amrOf((ok.json() as { token: string }).token), ['mfa', 'otp', 'pwd']);
      const reuse = await withTotp({ mfaId: await mfaIdFor('alice@example.com'), recoveryCode: c1 });
      assert.equal(reuse.statusCode, 400);
      assert.equal((reuse.json() as { code: string }).code, 'auth_failed');
      // One code, several sign-ins at once: one wins.
      const ids = await Promise.all([mfaIdFor('alice@example.com'), mfaIdFor('alice@example.com'), mfaIdFor('alice@example.com')]);
      const answers = await Promise.all(ids.map((mfaId) => withTotp({ mfaId, recoveryCode: c2 })));
      assert.equal(answers.filter((a) => a.statusCode === 200).length, 1);
      const status = (await inject('GET', '/api/collections/users/mfa', undefined, alice.token)).json() as { recoveryCodes: { remaining: number } };
      assert.equal(status.recoveryCodes.remaining, 8);

      const noProof = await inject('POST', '/api/collections/users/recovery-codes', {}, alice.token);
      assert.equal(noProof.statusCode, 400);
      assert.equal((noProof.json() as { code: string }).code, 'validation_failed');
      const badProof = await inject('POST', '/api/collections/users/recovery-codes', { code: '000000' }, alice.token);
      assert.equal((badProof.json() as { code: string }).code, 'auth_failed');
      // The password is no proof for an account with a second factor (see mfa-factor-takeover.test.ts).
      const byPassword = await inject('POST', '/api/collections/users/recovery-codes', { password }, alice.token);
      assert.equal(byPassword.statusCode, 403, byPassword.body);
      assert.equal((byPassword.json() as { code: string }).code, 'factor_proof_required');
      await freshSteps(alice.id);
      const regen = await inject('POST', '/api/collections/users/recovery-codes', { code: await totpCode(alice.secret, now()) }, alice.token);
      assert.equal(regen.statusCode, 200, regen.body);
      const fresh = (regen.json() as { recoveryCodes: string[] }).recoveryCodes;
      assert.equal(fresh.length, 10);
      assert.equal((await withTotp({ mfaId: await mfaIdFor('alice@example.com'), recoveryCode: c3 })).statusCode, 400);
      assert.equal((await withTotp({ mfaId: await mfaIdFor('alice@example.com'), recoveryCode: fresh[0] })).statusCode, 200);
      alice.recoveryCodes = fresh.slice(1);
      // Only hashes are stored.
      const rows = await t.app.db.all<{ hash: string }>('SELECT hash FROM _mfa_recovery_codes WHERE record_id = ?', [alice.id]);
      assert.equal(rows.length, 10);
      for (const r of rows) for (const code of fresh) assert.ok(!r.hash.includes(code.replaceAll('-', '')));
    });

    it('removing TOTP needs a current code (or a recovery code), not the password', async () => {
      const res = await inject('DELETE', '/api/collections/users/totp', {}, bob.token);
      assert.equal(res.statusCode, 400);
      const byPassword = await inject('DELETE', '/api/collections/users/totp', { password }, bob.token);
      assert.equal(byPassword.statusCode, 403);
      assert.equal((byPassword.json() as { code: string }).code, 'factor_proof_required');
      const wrong = await inject('DELETE', '/api/collections/users/totp', { code: '000000' }, bob.token);
      assert.equal((wrong.json() as { code: string }).code, 'auth_failed');
      await freshSteps(bob.id);
      const ok = await inject('DELETE', '/api/collections/users/totp', { code: await totpCode(bob.secret, now()) }, bob.token);
      assert.equal(ok.statusCode, 204, ok.body);
      const status = (await inject('GET', '/api/collections/users/mfa', undefined, bob.token)).json() as { totp: { enabled: boolean }; recoveryCodes: { remaining: number } };
      assert.deepEqual(status.totp, { enabled: false, pending: false });
      assert.equal(status.recoveryCodes.remaining, 0);
      const mfaId = await mfaIdFor('bob@example.com');
      assert.equal((await withTotp({ mfaId, code: await totpCode(bob.secret, now() + 30) })).statusCode, 400);
    });

    it('management needs the record itself: anonymous 401, another collection 403, TOTP off 403', async () => {
      assert.equal((await inject('POST', '/api/collections/users/totp/enroll', {})).statusCode, 401);
      await signUp('m@example.com', 'members');
      const member = ((await passwordSignIn('m@example.com', undefined, 'members')).json() as { token: string }).token;
      assert.equal((await inject('POST', '/api/collections/users/totp/enroll', {}, member)).statusCode, 403);
      const off = await inject('POST', '/api/collections/members/totp/enroll', {}, member);
      assert.equal(off.statusCode, 403);
      assert.equal((off.json() as { code: string }).code, 'forbidden');
    });

    it('superusers: the _superusers collection can require MFA', async () => {
      const su = t.superuserToken;
      const patch = await inject('PATCH', '/api/collections/_superusers', { totp: { enabled: true } }, su);
      assert.equal(patch.statusCode, 200, patch.body);
      const e = await inject('POST', '/api/collections/_superusers/totp/enroll', {}, su);
      assert.equal(e.statusCode, 200, e.body);
      const { secret } = e.json() as { secret: string };
      assert.equal((await inject('POST', '/api/collections/_superusers/totp/confirm', { code: await totpCode(secret, now()) }, su)).statusCode, 200);
      await setMfa({ enabled: true }, '_superusers', su);
      const first = await inject('POST', '/api/collections/_superusers/auth-with-password', { identity: SUPERUSER_EMAIL, password: SUPERUSER_PASSWORD });
      assert.equal(first.statusCode, 401, first.body);
      const mfaId = (first.json() as { mfaId: string }).mfaId;
      // TOTP proves the superuser; its next step, since confirming spent the current one.
      const done = await withTotp({ mfaId, code: await totpCode(secret, now() + 30) }, '_superusers');
      assert.equal(done.statusCode, 200, done.body);
      const token = (done.json() as { token: string }).token;
      assert.deepEqual(amrOf(token), ['mfa', 'otp', 'pwd']);
      // The MFA-signed token is a superuser's.
      assert.equal((await inject('GET', '/api/collections', undefined, token)).statusCode, 200);
      await setMfa({ enabled: false }, '_superusers', token);
      const plain = await inject('POST', '/api/collections/_superusers/auth-with-password', { identity: SUPERUSER_EMAIL, password: SUPERUSER_PASSWORD });
      assert.equal(plain.statusCode, 200);
    });

    it('bad input to every MFA route is a 4xx, never a 5xx', async () => {
      const bodies: unknown[] = [null, [], 'x', 42, { mfaId: {} }, { mfaId: ['a'], code: [] }, { code: { $gt: '' } }, { recoveryCode: 'x'.repeat(10_000) },
        { credential: 'x' }, { credential: { id: 5, response: { clientDataJSON: 5 } } }, { credential: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: Buffer.from('{"challenge":1}').toString('base64url') } } },
        { name: { toString: 1 } }, { password: 12 }];
      const routes: [('POST' | 'DELETE' | 'PATCH'), string][] = [
        ['POST', '/api/collections/users/auth-with-totp'], ['POST', '/api/collections/users/totp/enroll'], ['POST', '/api/collections/users/totp/confirm'],
        ['DELETE', '/api/collections/users/totp'], ['POST', '/api/collections/users/recovery-codes'], ['POST', '/api/collections/users/passkeys/options'],
        ['POST', '/api/collections/users/passkeys'], ['PATCH', '/api/collections/users/passkeys/nope'], ['POST', '/api/collections/users/auth-with-passkey/options'],
        ['POST', '/api/collections/users/auth-with-passkey'], ['POST', '/api/collections/users/auth-with-password?mfaId=%00'],
      ];
      for (const [method, url] of routes) {
        for (const body of bodies) {
          for (const token of [undefined, alice.token]) {
            const res = await t.app.http.inject({ method, url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) } });
            assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${url} ${JSON.stringify(body)}: ${res.statusCode} ${res.body}`);
          }
        }
      }
    });

    it('audit: MFA changes and sign-ins are recorded with their methods, never a secret or code', async () => {
      const entries = await t.app.audit.list(0, 10_000);
      const actions = new Set(entries.map((e) => `${e.action}:${e.outcome}`));
      for (const a of ['mfa.totp_enrolled:success', 'mfa.totp_enrolled:failure', 'mfa.totp_removed:success', 'mfa.totp_removed:failure',
        'mfa.recovery_regenerated:success', 'mfa.recovery_regenerated:failure', 'mfa.recovery_used:success', 'mfa.recovery_used:failure',
        'mfa.challenge:success', 'auth.signin:success', 'auth.signin:failure']) {
        assert.ok(actions.has(a), `missing ${a}`);
      }
      const mfaSignIn = entries.find((e) => e.action === 'auth.signin' && e.outcome === 'success' && (e.details as { method?: string }).method === 'totp');
      assert.deepEqual([...((mfaSignIn?.details as { amr: string[] }).amr)].sort(), ['mfa', 'otp', 'pwd']);
      const text = JSON.stringify(entries);
      for (const secret of [alice.secret, bob.secret, ...alice.recoveryCodes, password]) assert.ok(!text.includes(secret), 'a secret reached the audit log');
      assert.ok(!/"code":"\d{6}"/.test(text));
    });
  });
}
