/**
 * Ending a session ends renewal too; policies apply at refresh; rules about the caller see its roles.
 * Regression tests for the security review of the identity module:
 * - an access token of an ended session could be renewed forever (PocketBase-style `auth-refresh`);
 * - a refresh token sent to another collection's endpoint was used up (and a retry revoked its family);
 * - sessions from before "MFA required" kept refreshing with a single factor;
 * - `mfa.rule` / `authRule` saw role ids instead of role names, so `@request.auth.roles ?= "admin"` never matched.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`session revocation and policies at refresh (${dialect})`, () => {
    let t: TestApp;
    const post = (url: string, payload: unknown, token?: string) =>
      t.app.http.inject({ method: 'POST', url, payload: payload as object, headers: token ? { authorization: token } : {} });
    const signIn = async (collection: string, email: string) => {
      const res = await post(`/api/collections/${collection}/auth-with-password`, { identity: email, password });
      return res;
    };

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, refreshPerIp: 0, failureDelayMs: 0 } });
      for (const name of ['users', 'members']) {
        await createCollection(t, { name, type: 'auth', createRule: '', updateRule: 'id = @request.auth.id', fields: [] });
      }
      for (const [c, email] of [['users', 'a@example.com'], ['users', 'b@example.com'], ['members', 'm@example.com']]) {
        await createRecord(t, c, { email, password, passwordConfirm: password, verified: true });
      }
    });
    after(async () => t.dispose());

    it('after logout (all sessions), the old access token can no longer be renewed', async () => {
      const s = (await signIn('users', 'a@example.com')).json() as { token: string; refreshToken: string };
      assert.equal((await post('/api/collections/users/auth-refresh', {}, s.token)).statusCode, 200, 'renewal works while the session lives');
      assert.equal((await post('/api/collections/users/auth-logout', { all: true }, s.token)).statusCode, 204);
      const renew = await post('/api/collections/users/auth-refresh', {}, s.token);
      assert.equal(renew.statusCode, 401, renew.body);
      assert.equal((await post('/api/collections/users/auth-refresh', { refreshToken: s.refreshToken })).statusCode, 401);
    });

    it('a password change signs out every other device; the device that made it stays signed in (after a refresh)', async () => {
      await createRecord(t, 'users', { email: 'pw@example.com', password, passwordConfirm: password, verified: true });
      const a = (await signIn('users', 'pw@example.com')).json() as { token: string; refreshToken: string; record: { id: string } };
      const b = (await signIn('users', 'pw@example.com')).json() as { token: string; refreshToken: string };
      const change = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${a.record.id}`, headers: { authorization: a.token }, payload: { password: 'a brand new passphrase', passwordConfirm: 'a brand new passphrase', oldPassword: password } });
      assert.equal(change.statusCode, 200, change.body);
      assert.equal((await post('/api/collections/users/auth-refresh', {}, b.token)).statusCode, 401, 'the other device cannot renew its access token');
      assert.equal((await post('/api/collections/users/auth-refresh', { refreshToken: b.refreshToken })).statusCode, 401, 'the other device is signed out');
      const revoked = await t.app.db.all<{ revoked: number }>('SELECT revoked FROM _refresh_tokens WHERE family = ?', [(JSON.parse(Buffer.from(b.token.split('.')[1], 'base64url').toString()) as { sid: string }).sid]);
      assert.ok(revoked.every((r) => Number(r.revoked) === 1), 'revoked in the same transaction, for every node');
      assert.equal((await post('/api/collections/users/auth-refresh', {}, a.token)).statusCode, 401, 'every access token issued before the change is dead');
      const again = await post('/api/collections/users/auth-refresh', { refreshToken: a.refreshToken });
      assert.equal(again.statusCode, 200, `the changing device refreshes: ${again.body}`);
      const me = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-sessions', headers: { authorization: (again.json() as { token: string }).token } });
      assert.equal((me.json() as { items: unknown[] }).items.length, 1);
    });

    it('a refresh token sent to another collection is refused without being used up', async () => {
      const s = (await signIn('users', 'b@example.com')).json() as { refreshToken: string };
      assert.equal((await post('/api/collections/members/auth-refresh', { refreshToken: s.refreshToken })).statusCode, 401);
      const right = await post('/api/collections/users/auth-refresh', { refreshToken: s.refreshToken });
      assert.equal(right.statusCode, 200, `the token still works where it belongs: ${right.body}`);
    });

    it('once MFA is required, a single-factor session is not refreshed (sign in again)', async () => {
      const s = (await signIn('members', 'm@example.com')).json() as { token: string; refreshToken: string };
      const patch = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/members', headers: { authorization: t.superuserToken }, payload: { mfa: { enabled: true } } });
      assert.equal(patch.statusCode, 200, patch.body);
      try {
        assert.equal((await post('/api/collections/members/auth-refresh', { refreshToken: s.refreshToken })).statusCode, 401);
        assert.equal((await post('/api/collections/members/auth-refresh', {}, s.token)).statusCode, 401);
      } finally {
        await t.app.http.inject({ method: 'PATCH', url: '/api/collections/members', headers: { authorization: t.superuserToken }, payload: { mfa: { enabled: false } } });
      }
    });

    it('mfa.rule and authRule see role names: a rule on "admin" covers admins only', async () => {
      const admin = await createRecord(t, '_roles', { name: 'admin', permissions: ['everything'] });
      const a = await t.app.records.findRawBy('users', 'email', 'a@example.com');
      const res = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${String(a!.id)}`, headers: { authorization: t.superuserToken }, payload: { roles: [admin.id] } });
      assert.equal(res.statusCode, 200, res.body);
      const patch = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/users', headers: { authorization: t.superuserToken }, payload: { mfa: { enabled: true, rule: '@request.auth.roles ?= "admin"' }, authRule: '@request.auth.permissions ?= "everything" || @request.auth.roles:length = 0' } });
      assert.equal(patch.statusCode, 200, patch.body);
      try {
        const adminSignIn = await signIn('users', 'a@example.com');
        assert.equal(adminSignIn.statusCode, 401, adminSignIn.body);
        assert.equal((adminSignIn.json() as { code: string }).code, 'mfa_required');
        assert.equal((await signIn('users', 'b@example.com')).statusCode, 200, 'a user without the role signs in with a password');
      } finally {
        await t.app.http.inject({ method: 'PATCH', url: '/api/collections/users', headers: { authorization: t.superuserToken }, payload: { mfa: { enabled: false, rule: '' }, authRule: '' } });
      }
    });
  });
}
