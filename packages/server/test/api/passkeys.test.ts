/**
 * Passkeys (WebAuthn) with a software authenticator: registration, passwordless sign-in (user
 * verification required), the second factor of an MFA sign-in, and the refusals: replayed challenges,
 * counter regressions, wrong origin or RP ID, another record's credential, concurrent use of one answer.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { SoftAuthenticator, type AssertionJson, type CreationOptions, type RequestOptions } from '../support/soft-authenticator.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';
const origin = 'https://app.example.test';
const rpId = 'app.example.test';

function amrOf(token: string): string[] {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { amr?: string[] };
  return [...(claims.amr ?? [])].sort();
}

for (const dialect of dialects()) {
  describe(`passkeys with a software authenticator (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: token } : {} });
    const code = (res: { json(): unknown }) => (res.json() as { code: string }).code;

    before(async () => {
      const rateLimits = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 };
      t = await startTestApp(dialect, { rateLimits });
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', fields: [],
        passkeys: { enabled: true, rpName: 'Basalt Test', rpId, origins: [origin] },
      });
      await createCollection(t, { name: 'members', type: 'auth', createRule: '', fields: [] });
    });
    after(async () => t.dispose());

    async function account(email: string): Promise<{ id: string; token: string }> {
      const c = await inject('POST', '/api/collections/users/records', { email, password, passwordConfirm: password });
      assert.equal(c.statusCode, 200, c.body);
      const s = await inject('POST', '/api/collections/users/auth-with-password', { identity: email, password });
      assert.equal(s.statusCode, 200, s.body);
      return { id: (c.json() as { id: string }).id, token: (s.json() as { token: string }).token };
    }

    /** An assertion of one of the signed-in record's passkeys, proving a factor change (`{passkey}`). */
    async function passkeyProof(token: string, authenticator: SoftAuthenticator): Promise<AssertionJson> {
      const res = await inject('POST', '/api/collections/users/passkeys/reauth-options', {}, token);
      assert.equal(res.statusCode, 200, res.body);
      return authenticator.assert(res.json() as RequestOptions);
    }

    /** Registration options; `proof` for a record that already has a passkey (its token signed in with the password only). */
    async function registrationOptions(token: string, proof?: SoftAuthenticator): Promise<CreationOptions & { authenticatorSelection?: unknown; excludeCredentials?: unknown[] }> {
      const res = await inject('POST', '/api/collections/users/passkeys/options', proof ? { passkey: await passkeyProof(token, proof) } : {}, token);
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as CreationOptions;
    }

    async function register(token: string, authenticator: SoftAuthenticator, name?: string): Promise<{ id: string; name: string }> {
      const res = await inject('POST', '/api/collections/users/passkeys', { credential: authenticator.register(await registrationOptions(token)), name }, token);
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { id: string; name: string };
    }

    async function signInOptions(mfaId?: string): Promise<RequestOptions & { userVerification?: string }> {
      const res = await inject('POST', '/api/collections/users/auth-with-passkey/options', mfaId ? { mfaId } : {});
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as RequestOptions;
    }

    const passkeySignIn = (credential: AssertionJson, mfaId?: string) => inject('POST', '/api/collections/users/auth-with-passkey', { credential, ...(mfaId ? { mfaId } : {}) });

    const alice = new SoftAuthenticator({ origin });
    let aliceAccount: { id: string; token: string };

    it('adding a passkey needs a recent sign-in or the password: a stolen older token cannot plant one', async () => {
      const mallory = await account('stale@example.com');
      // Age the token's session past the recent-sign-in window (as a token stolen an hour ago would be).
      const sid = (JSON.parse(Buffer.from(mallory.token.split('.')[1], 'base64url').toString('utf8')) as { sid: string }).sid;
      await t.app.db.run('UPDATE _sessions SET created = ? WHERE id = ?', [new Date(Date.now() - 3_600_000).toISOString().replace('T', ' '), sid]);
      const stale = await inject('POST', '/api/collections/users/passkeys/options', {}, mallory.token);
      assert.equal(stale.statusCode, 403, stale.body);
      assert.equal(code(stale), 'reauthentication_required');
      const wrong = await inject('POST', '/api/collections/users/passkeys/options', { password: 'not the password' }, mallory.token);
      assert.equal(wrong.statusCode, 400, wrong.body);
      const proved = await inject('POST', '/api/collections/users/passkeys/options', { password }, mallory.token);
      assert.equal(proved.statusCode, 200, proved.body);
    });

    it('registers a passkey for the signed-in record; the registration answer works once', async () => {
      aliceAccount = await account('alice@example.com');
      const options = await registrationOptions(aliceAccount.token);
      assert.equal(options.rp.id, rpId);
      assert.equal(options.rp.name, 'Basalt Test');
      assert.equal(options.user.id, Buffer.from(aliceAccount.id).toString('base64url'));
      assert.equal(options.user.name, 'alice@example.com');
      const credential = alice.register(options);
      const res = await inject('POST', '/api/collections/users/passkeys', { credential, name: 'Laptop' }, aliceAccount.token);
      assert.equal(res.statusCode, 200, res.body);
      const info = res.json() as Record<string, unknown>;
      assert.equal(info.name, 'Laptop');
      assert.equal(info.deviceType, 'singleDevice');
      assert.equal(info.backedUp, false);
      assert.deepEqual(info.transports, ['internal']);
      assert.equal(JSON.stringify(info).includes('publicKey'), false);

      const replay = await inject('POST', '/api/collections/users/passkeys', { credential, name: 'Again' }, aliceAccount.token);
      assert.equal(replay.statusCode, 400);
      assert.equal(code(replay), 'auth_failed');

      const list = (await inject('GET', '/api/collections/users/passkeys', undefined, aliceAccount.token)).json() as { items: { name: string }[] };
      assert.deepEqual(list.items.map((p) => p.name), ['Laptop']);
      const status = (await inject('GET', '/api/collections/users/mfa', undefined, aliceAccount.token)).json() as { passkeys: number };
      assert.equal(status.passkeys, 1);
      // A second registration excludes the first credential (and is proven with the first passkey).
      const next = await registrationOptions(aliceAccount.token, alice);
      assert.equal(next.excludeCredentials?.length, 1);
    });

    it('refuses registrations from another origin, for another RP ID, or with another record\'s challenge', async () => {
      const other = new SoftAuthenticator({ origin });
      const evilOrigin = await inject('POST', '/api/collections/users/passkeys', { credential: other.register(await registrationOptions(aliceAccount.token, alice), { origin: 'https://evil.example' }) }, aliceAccount.token);
      assert.equal(code(evilOrigin), 'auth_failed');
      const evilRp = await inject('POST', '/api/collections/users/passkeys', { credential: other.register(await registrationOptions(aliceAccount.token, alice), { rpId: 'evil.example' }) }, aliceAccount.token);
      assert.equal(code(evilRp), 'auth_failed');
      const bob = await account('bob@example.com');
      const bobsOptions = await registrationOptions(bob.token);
      const stolen = await inject('POST', '/api/collections/users/passkeys', { credential: other.register(bobsOptions) }, aliceAccount.token);
      assert.equal(code(stolen), 'auth_failed');
      const malformed = await inject('POST', '/api/collections/users/passkeys', { credential: { id: 'x', response: { clientDataJSON: '!!' } } }, aliceAccount.token);
      assert.equal(malformed.statusCode, 400);
    });

    it('passwordless: a discoverable credential with user verification signs in (amr hwk + user + mfa)', async () => {
      const options = await signInOptions();
      assert.equal(options.userVerification, 'required');
      assert.equal(options.rpId, rpId);
      assert.equal((options.allowCredentials ?? []).length, 0);
      const res = await passkeySignIn(alice.assert(options));
      assert.equal(res.statusCode, 200, res.body);
      const b = res.json() as { token: string; refreshToken: string; record: { id: string } };
      assert.equal(b.record.id, aliceAccount.id);
      assert.deepEqual(amrOf(b.token), ['hwk', 'mfa', 'user']);
      assert.equal((await inject('GET', `/api/collections/users/records/${aliceAccount.id}`, undefined, b.token)).statusCode, 200);
    });

    it('a synced passkey signs in as swk', async () => {
      const carol = await account('carol@example.com');
      const synced = new SoftAuthenticator({ origin, synced: true });
      const info = await register(carol.token, synced);
      assert.equal((info as unknown as { deviceType: string }).deviceType, 'multiDevice');
      const res = await passkeySignIn(synced.assert(await signInOptions()));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(amrOf((res.json() as { token: string }).token), ['mfa', 'swk', 'user']);
    });

    it('passwordless sign-in requires user verification', async () => {
      const res = await passkeySignIn(alice.assert(await signInOptions(), { userVerification: false }));
      assert.equal(res.statusCode, 400);
      assert.equal(code(res), 'auth_failed');
    });

    it('a replayed answer is refused (the challenge was used), also when sent twice at once', async () => {
      const answer = alice.assert(await signInOptions());
      assert.equal((await passkeySignIn(answer)).statusCode, 200);
      const replay = await passkeySignIn(answer);
      assert.equal(replay.statusCode, 400);
      assert.equal(code(replay), 'auth_failed');
      const twice = alice.assert(await signInOptions());
      const answers = await Promise.all([passkeySignIn(twice), passkeySignIn(twice), passkeySignIn(twice)]);
      assert.equal(answers.filter((a) => a.statusCode === 200).length, 1);
    });

    it('a signature counter that does not move forward is refused (cloned authenticator)', async () => {
      const row = await t.app.db.get<{ counter: number | string }>('SELECT counter FROM _passkeys WHERE record_id = ?', [aliceAccount.id]);
      const stored = Number(row!.counter);
      assert.ok(stored > 0);
      for (const counter of [stored, stored - 1]) {
        const res = await passkeySignIn(alice.assert(await signInOptions(), { counter }));
        assert.equal(res.statusCode, 400, `counter ${counter}`);
        assert.equal(code(res), 'auth_failed');
      }
      assert.equal((await passkeySignIn(alice.assert(await signInOptions(), { counter: stored + 5 }))).statusCode, 200);
    });

    it('answers from another origin or for another RP ID are refused', async () => {
      for (const override of [{ origin: 'https://evil.example' }, { origin: 'http://app.example.test' }, { rpId: 'evil.example' }, { rpId: 'example.test' }]) {
        const res = await passkeySignIn(alice.assert(await signInOptions(), override));
        assert.equal(res.statusCode, 400, JSON.stringify(override));
        assert.equal(code(res), 'auth_failed');
      }
      const garbage = await passkeySignIn({ id: 'x' } as unknown as AssertionJson);
      assert.equal(garbage.statusCode, 400);
    });

    it('as the second factor of an MFA sign-in: amr pwd + hwk + mfa; another record\'s passkey is refused', async () => {
      const patch = await inject('PATCH', '/api/collections/users', { mfa: { enabled: true } }, t.superuserToken);
      assert.equal(patch.statusCode, 200, patch.body);
      const first = await inject('POST', '/api/collections/users/auth-with-password', { identity: 'alice@example.com', password });
      assert.equal(first.statusCode, 401, first.body);
      const mfaId = (first.json() as { mfaId: string }).mfaId;
      const options = await signInOptions(mfaId);
      assert.equal(options.userVerification, 'preferred');
      assert.equal(options.allowCredentials?.length, 1);

      // Dave's passkey answering Alice's second-factor challenge.
      const davesAuthenticator = new SoftAuthenticator({ origin });
      await account2('dave@example.com', davesAuthenticator);
      const wrongRecord = await passkeySignIn(davesAuthenticator.assert({ ...(await signInOptions(mfaId)), allowCredentials: [] }), mfaId);
      assert.equal(code(wrongRecord), 'auth_failed');

      // Without user verification: fine for a second factor.
      const res = await passkeySignIn(alice.assert(await signInOptions(mfaId), { userVerification: false }), mfaId);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(amrOf((res.json() as { token: string }).token), ['hwk', 'mfa', 'pwd']);
      // The mfaId is spent; its options cannot be had again.
      const again = await inject('POST', '/api/collections/users/auth-with-passkey/options', { mfaId });
      assert.equal(code(again), 'mfa_invalid');
      // A passwordless sign-in with user verification is multi-factor by itself and still signs in.
      const passwordless = await passkeySignIn(alice.assert(await signInOptions()));
      assert.equal(passwordless.statusCode, 200, passwordless.body);
      // A passwordless answer cannot finish someone's MFA sign-in (challenge purpose differs).
      const first2 = await inject('POST', '/api/collections/users/auth-with-password', { identity: 'alice@example.com', password });
      const mfaId2 = (first2.json() as { mfaId: string }).mfaId;
      const crossed = await passkeySignIn(alice.assert(await signInOptions()), mfaId2);
      assert.equal(code(crossed), 'auth_failed');
      await inject('PATCH', '/api/collections/users', { mfa: { enabled: false } }, t.superuserToken);
    });

    /** An account registered with a given authenticator while MFA is on (the rule spares it). */
    async function account2(email: string, authenticator: SoftAuthenticator): Promise<{ id: string; token: string }> {
      await inject('PATCH', '/api/collections/users', { mfa: { rule: `email != "${email}"` } }, t.superuserToken);
      try {
        const a = await account(email);
        await register(a.token, authenticator);
        return a;
      } finally {
        await inject('PATCH', '/api/collections/users', { mfa: { rule: '' } }, t.superuserToken);
      }
    }

    it('rename and delete; a deleted passkey no longer signs in; passkeys off answers 403', async () => {
      const list = (await inject('GET', '/api/collections/users/passkeys', undefined, aliceAccount.token)).json() as { items: { id: string }[] };
      const id = list.items[0].id;
      const renamed = await inject('PATCH', `/api/collections/users/passkeys/${id}`, { name: 'Work laptop' }, aliceAccount.token);
      assert.equal((renamed.json() as { name: string }).name, 'Work laptop');
      const bad = await inject('PATCH', `/api/collections/users/passkeys/${id}`, { name: 'x'.repeat(101) }, aliceAccount.token);
      assert.equal(code(bad), 'validation_failed');
      const bob = await t.app.records.findRawBy('users', 'email', 'bob@example.com');
      const bobToken = ((await inject('POST', '/api/collections/users/auth-with-password', { identity: 'bob@example.com', password })).json() as { token: string }).token;
      assert.ok(bob);
      assert.equal((await inject('DELETE', `/api/collections/users/passkeys/${id}`, undefined, bobToken)).statusCode, 404);
      // Deleting a factor needs that factor (or another): alice's token signed in with the password only.
      assert.equal(code(await inject('DELETE', `/api/collections/users/passkeys/${id}`, { password }, aliceAccount.token)), 'factor_proof_required');
      assert.equal((await inject('DELETE', `/api/collections/users/passkeys/${id}`, { passkey: await passkeyProof(aliceAccount.token, alice) }, aliceAccount.token)).statusCode, 204);
      assert.equal(code(await passkeySignIn(alice.assert(await signInOptions()))), 'auth_failed');

      const member = await inject('POST', '/api/collections/members/auth-with-passkey/options', {});
      assert.equal(member.statusCode, 403);

      const audit = await t.app.audit.list(0, 10_000);
      const actions = new Set(audit.map((e) => `${e.action}:${e.outcome}`));
      for (const a of ['mfa.passkey_added:success', 'mfa.passkey_added:failure', 'mfa.passkey_removed:success', 'auth.signin:success', 'auth.signin:failure']) assert.ok(actions.has(a), a);
      const signIn = audit.find((e) => e.action === 'auth.signin' && e.outcome === 'success' && (e.details as { method?: string }).method === 'passkey');
      assert.ok(signIn);
      assert.ok(Array.isArray((signIn.details as { amr?: unknown }).amr));
    });

    it('bad passkey input is a 4xx, never a 5xx', async () => {
      const bob = ((await inject('POST', '/api/collections/users/auth-with-password', { identity: 'bob@example.com', password })).json() as { token: string }).token;
      const cd = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const live = (await signInOptions()).challenge;
      const credentials: unknown[] = [null, 'x', [], { response: null }, { id: 7, response: { clientDataJSON: cd({ challenge: live }) } },
        { id: 'a', rawId: 'b', type: 'public-key', response: { clientDataJSON: cd({ challenge: (await signInOptions()).challenge, type: 'webauthn.get', origin }), authenticatorData: '!!', signature: 5 } },
        { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: cd({ challenge: (await registrationOptions(bob)).challenge, type: 'webauthn.create', origin }), attestationObject: 'AAAA' } },
        { id: 'a', response: { clientDataJSON: 'not base64 json' } }, { response: { clientDataJSON: cd([1, 2]) } }];
      for (const credential of credentials) {
        for (const [url, token] of [['/api/collections/users/auth-with-passkey', undefined], ['/api/collections/users/passkeys', bob]] as const) {
          const res = await inject('POST', url, { credential, name: 'x' }, token);
          assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url} ${JSON.stringify(credential)}: ${res.statusCode} ${res.body}`);
        }
      }
    });

    it('deleting a record deletes its passkeys', async () => {
      const carol = await t.app.records.findRawBy('users', 'email', 'carol@example.com');
      const del = await inject('DELETE', `/api/collections/users/records/${String(carol!.id)}`, undefined, t.superuserToken);
      assert.equal(del.statusCode, 204, del.body);
      const left = await t.app.db.all('SELECT id FROM _passkeys WHERE record_id = ?', [String(carol!.id)]);
      assert.equal(left.length, 0);
    });
  });
}
