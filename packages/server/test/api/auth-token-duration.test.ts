/**
 * Regression (security review item 8, second half): a collection's `authToken.duration` was ignored
 * (every token lived the server's TTL). Now it sets the lifetime of the collection's access tokens
 * (0, the default: the server's `tokenTtlSeconds`), verification accepts a collection's own lifetime
 * even beyond the server's TTL, and a shortened duration bounds tokens already issued.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';
const span = (token: string) => {
  const c = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { iat: number; exp: number };
  return c.exp - c.iat;
};

for (const dialect of dialects()) {
  describe(`authToken.duration per collection (${dialect})`, () => {
    let t: TestApp;
    let noteId: string;
    const signIn = async (collection: string, email: string) => {
      const res = await t.app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-with-password`, payload: { identity: email, password } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { token: string; refreshToken: string };
    };
    const read = (token: string) => t.app.http.inject({ method: 'GET', url: `/api/collections/notes/records/${noteId}`, headers: { authorization: token } });

    before(async () => {
      t = await startTestApp(dialect, { tokenTtlSeconds: 300, rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, refreshPerIp: 0, failureDelayMs: 0 } });
      await createCollection(t, { name: 'plain', type: 'auth', fields: [] });
      await createCollection(t, { name: 'short', type: 'auth', fields: [], authToken: { duration: 120 } });
      await createCollection(t, { name: 'long', type: 'auth', fields: [], authToken: { duration: 7200 } });
      await createCollection(t, { name: 'notes', type: 'base', viewRule: '@request.auth.id != ""', fields: [{ name: 'title', type: 'text' }] });
      noteId = String((await createRecord(t, 'notes', { title: 'n' })).id);
      for (const c of ['plain', 'short', 'long']) await createRecord(t, c, { email: `${c}@example.com`, password, passwordConfirm: password, verified: true });
    });
    after(async () => t.dispose());

    it('a collection that sets none gets the server TTL; the others their own duration (sign-in and refresh)', async () => {
      assert.equal(t.app.registry.get('plain').authToken?.duration, 0);
      assert.equal(span((await signIn('plain', 'plain@example.com')).token), 300);
      const short = await signIn('short', 'short@example.com');
      assert.equal(span(short.token), 120);
      const refreshed = await t.app.http.inject({ method: 'POST', url: '/api/collections/short/auth-refresh', payload: { refreshToken: short.refreshToken } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.equal(span(refreshed.json().token), 120);
    });

    it('a duration beyond the server TTL is accepted by verification', async () => {
      const long = await signIn('long', 'long@example.com');
      assert.equal(span(long.token), 7200);
      assert.equal((await read(long.token)).statusCode, 200);
    });

    it('a shortened duration bounds tokens already issued', async () => {
      const long = await signIn('long', 'long@example.com');
      assert.equal((await read(long.token)).statusCode, 200, 'verified and cached');
      const patch = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/long', headers: { authorization: t.superuserToken }, payload: { authToken: { duration: 600 } } });
      assert.equal(patch.statusCode, 200, patch.body);
      const res = await read(long.token);
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, 'token_invalid');
      assert.equal(span((await signIn('long', 'long@example.com')).token), 600);
    });

    it('durations out of range are refused', async () => {
      for (const duration of [30, 2592001, -1, 1.5, '600']) {
        const res = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/short', headers: { authorization: t.superuserToken }, payload: { authToken: { duration } } });
        assert.equal(res.statusCode, 400, `${String(duration)}: ${res.body}`);
        assert.equal(res.json().code, 'collection_invalid');
      }
    });
  });
}
