/**
 * Regression (security review item 8, first half): `passwordAuth.enabled: false` was stored but
 * ignored — password sign-in still worked and `auth-methods` said it was enabled — and
 * `passwordAuth.identityFields` was stored but sign-in only ever looked at `email`. Both are honoured
 * now, as PocketBase does (403 when disabled; sign-in by any listed unique field), and identity fields
 * that could name several records are refused.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`passwordAuth options are honoured (${dialect})`, () => {
    let t: TestApp;
    const signIn = (collection: string, payload: Record<string, unknown>) =>
      t.app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-with-password`, payload });
    const methods = async (collection: string) =>
      (await t.app.http.inject({ method: 'GET', url: `/api/collections/${collection}/auth-methods` })).json().password as { enabled: boolean; identityFields: string[] };
    const patch = (collection: string, payload: Record<string, unknown>) =>
      t.app.http.inject({ method: 'PATCH', url: `/api/collections/${collection}`, headers: { authorization: t.superuserToken }, payload });

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 } });
      await createCollection(t, { name: 'users', type: 'auth', fields: [], passwordAuth: { enabled: false } });
      await createRecord(t, 'users', { email: 'u@example.com', password, passwordConfirm: password, verified: true });
      await createCollection(t, {
        name: 'players', type: 'auth', passwordAuth: { enabled: true, identityFields: ['email', 'username'] },
        fields: [{ name: 'username', type: 'text', unique: true }, { name: 'nickname', type: 'text' }],
      });
      await createRecord(t, 'players', { email: 'p@example.com', username: 'Player1', password, passwordConfirm: password, verified: true });
    });
    after(async () => t.dispose());

    it('disabled: a correct password sign-in is 403 password_auth_disabled, and auth-methods says so', async () => {
      const res = await signIn('users', { identity: 'u@example.com', password });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'password_auth_disabled');
      assert.doesNotMatch(res.body, /"token"/);
      assert.equal((await methods('users')).enabled, false);
    });

    it('enabled again: password sign-in works and auth-methods says so', async () => {
      assert.equal((await patch('users', { passwordAuth: { enabled: true } })).statusCode, 200);
      try {
        assert.equal((await signIn('users', { identity: 'u@example.com', password })).statusCode, 200);
        assert.equal((await methods('users')).enabled, true);
      } finally {
        assert.equal((await patch('users', { passwordAuth: { enabled: false } })).statusCode, 200);
      }
    });

    it('superusers keep password sign-in by default', async () => {
      assert.equal((await signIn('_superusers', { identity: 'root@example.com', password: 'a-long-test-password' })).statusCode, 200);
    });

    it('identityFields: sign-in by any listed field; identityField picks one; auth-methods lists them', async () => {
      assert.deepEqual((await methods('players')).identityFields, ['email', 'username']);
      assert.equal((await signIn('players', { identity: 'Player1', password })).statusCode, 200);
      assert.equal((await signIn('players', { identity: 'p@example.com', password })).statusCode, 200);
      assert.equal((await signIn('players', { identity: 'Player1', identityField: 'username', password })).statusCode, 200);
      const wrongField = await signIn('players', { identity: 'Player1', identityField: 'email', password });
      assert.equal(wrongField.statusCode, 400);
      assert.equal(wrongField.json().code, 'auth_failed');
      const notListed = await signIn('players', { identity: 'x', identityField: 'nickname', password });
      assert.equal(notListed.statusCode, 400);
      assert.equal(notListed.json().code, 'validation_failed');
      assert.equal((await signIn('players', { identity: 'Player1', password: 'wrong password 1' })).json().code, 'auth_failed');
    });

    it('identityFields that could name several records (non-unique, unknown) are refused, never ignored', async () => {
      for (const ids of [['nickname'], ['email', 'nickname'], ['nope']]) {
        const res = await patch('players', { passwordAuth: { identityFields: ids } });
        assert.equal(res.statusCode, 400, `${ids.join(',')}: ${res.body}`);
        assert.equal(res.json().code, 'collection_invalid');
      }
      // A listed field cannot lose its uniqueness silently either.
      const fields = (await t.app.http.inject({ method: 'GET', url: '/api/collections/players', headers: { authorization: t.superuserToken } })).json().fields as Record<string, unknown>[];
      const res = await patch('players', { fields: fields.map((f) => (f.name === 'username' ? { ...f, unique: false } : f)) });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'collection_invalid');
    });
  });
}
