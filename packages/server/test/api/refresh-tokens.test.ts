/**
 * Rotating refresh tokens: rotation, reuse detection that revokes the family, concurrent refreshes
 * without a second live branch, PocketBase's access-token renewal, logout, and a password change ending
 * refresh tokens too.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`refresh tokens (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [] });
    });
    after(async () => t.dispose());

    async function signIn(email: string): Promise<{ token: string; refreshToken: string; id: string }> {
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email, password, passwordConfirm: password } });
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: email, password } });
      assert.equal(res.statusCode, 200, res.body);
      const b = res.json() as { token: string; refreshToken: string; record: { id: string } };
      assert.ok(b.refreshToken && b.refreshToken.length >= 40);
      return { token: b.token, refreshToken: b.refreshToken, id: b.record.id };
    }
    const refresh = (refreshToken: unknown, collection = 'users') => t.app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-refresh`, payload: { refreshToken } });

    it('rotates on every use; the new pair works', async () => {
      const s = await signIn('a@example.com');
      const r1 = await refresh(s.refreshToken);
      assert.equal(r1.statusCode, 200, r1.body);
      const b1 = r1.json() as { token: string; refreshToken: string; record: { email: string } };
      assert.notEqual(b1.refreshToken, s.refreshToken);
      assert.equal(b1.record.email, 'a@example.com');
      const me = await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${s.id}`, headers: { authorization: b1.token } });
      assert.equal(me.statusCode, 200);
      assert.equal((await refresh(b1.refreshToken)).statusCode, 200);
    });

    it('reuse after the grace period revokes the whole family', async () => {
      const s = await signIn('b@example.com');
      const r1 = (await refresh(s.refreshToken)).json() as { refreshToken: string };
      // Age the first token's use beyond the grace period, as if an attacker replayed it later.
      await t.app.db.run(`UPDATE _refresh_tokens SET used = '2000-01-01 00:00:00.000Z' WHERE used != ''`);
      const replay = await refresh(s.refreshToken);
      assert.equal(replay.statusCode, 401);
      assert.equal((replay.json() as { code: string }).code, 'token_invalid');
      // The legitimate successor died with its family.
      assert.equal((await refresh(r1.refreshToken)).statusCode, 401);
    });

    it('concurrent refreshes with one token get the same successor: no second live branch', async () => {
      const s = await signIn('c@example.com');
      const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(s.refreshToken)));
      for (const a of answers) assert.equal(a.statusCode, 200, a.body);
      const successors = new Set(answers.map((a) => (a.json() as { refreshToken: string }).refreshToken));
      assert.equal(successors.size, 1);
      const live = await t.app.db.all(`SELECT hash FROM _refresh_tokens WHERE record_id = ? AND used = '' AND revoked = 0`, [s.id]);
      assert.equal(live.length, 1);
    });

    it('refuses unknown, malformed and cross-collection tokens', async () => {
      const s = await signIn('d@example.com');
      assert.equal((await refresh('x'.repeat(43))).statusCode, 401);
      assert.equal((await refresh(42)).statusCode, 401);
      assert.equal((await refresh(s.refreshToken, '_superusers')).statusCode, 401);
    });

    it('a refresh token is not an access token', async () => {
      const s = await signIn('e@example.com');
      const res = await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${s.id}`, headers: { authorization: s.refreshToken } });
      assert.equal(res.statusCode, 401);
    });

    it('renews a valid access token PocketBase-style, and refuses anonymous callers', async () => {
      const s = await signIn('f@example.com');
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh', headers: { authorization: s.token } });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!('refreshToken' in (res.json() as object)));
      assert.equal((await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh' })).statusCode, 401);
    });

    it('logout ends one session; all ends every session; a password change ends every other one', async () => {
      const one = await signIn('g@example.com');
      const two = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'g@example.com', password } })).json() as { refreshToken: string; token: string };
      const out = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-logout', headers: { authorization: one.token }, payload: { refreshToken: one.refreshToken } });
      assert.equal(out.statusCode, 204, out.body);
      assert.equal((await refresh(one.refreshToken)).statusCode, 401);
      const r2 = (await refresh(two.refreshToken)).json() as { refreshToken: string; token: string };
      assert.ok(r2.refreshToken);
      const other = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'g@example.com', password } })).json() as { refreshToken: string };
      const changed = await t.app.http.inject({
        method: 'PATCH', url: `/api/collections/users/records/${one.id}`, headers: { authorization: r2.token },
        payload: { oldPassword: password, password: 'a new horse 2', passwordConfirm: 'a new horse 2' },
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal((await refresh(other.refreshToken)).statusCode, 401, 'another device is signed out');
      assert.equal((await refresh(r2.refreshToken)).statusCode, 200, 'the device that changed the password stays signed in');
      const three = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'g@example.com', password: 'a new horse 2' } })).json() as { refreshToken: string; token: string };
      assert.equal((await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-logout', headers: { authorization: three.token }, payload: { all: true } })).statusCode, 204);
      assert.equal((await refresh(three.refreshToken)).statusCode, 401);
    });

    it('lists the caller\'s sessions, marks the current one, ends one or all others', async () => {
      const phone = await signIn('h@example.com');
      const laptop = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'h@example.com', password } })).json() as { token: string; refreshToken: string };
      const tablet = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'h@example.com', password } })).json() as { token: string; refreshToken: string };
      const list = async (token: string) => (await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-sessions', headers: { authorization: token } })).json() as { items: { id: string; current: boolean }[] };
      const seen = await list(phone.token);
      assert.equal(seen.items.length, 3);
      assert.equal(seen.items.filter((x) => x.current).length, 1);
      // A refreshed token keeps its session.
      const refreshed = (await refresh(laptop.refreshToken)).json() as { token: string; refreshToken: string };
      const laptopSession = (await list(refreshed.token)).items.find((x) => x.current)!.id;
      assert.equal((await list(laptop.token)).items.find((x) => x.current)!.id, laptopSession);
      // End the tablet's session from the phone.
      const tabletSession = (await list(tablet.token)).items.find((x) => x.current)!.id;
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: `/api/collections/users/auth-sessions/${tabletSession}`, headers: { authorization: phone.token } })).statusCode, 204);
      assert.equal((await refresh(tablet.refreshToken)).statusCode, 401);
      // Another user cannot end it (or see it).
      const other = await signIn('i@example.com');
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: `/api/collections/users/auth-sessions/${laptopSession}`, headers: { authorization: other.token } })).statusCode, 404);
      assert.equal((await list(other.token)).items.length, 1);
      // Sign out everywhere else.
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: '/api/collections/users/auth-sessions/others', headers: { authorization: phone.token } })).statusCode, 204);
      const left = await list(phone.token);
      assert.equal(left.items.length, 1);
      assert.equal(left.items[0].current, true);
      assert.equal((await refresh(refreshed.refreshToken)).statusCode, 401);
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-sessions' })).statusCode, 401);
    });
  });
}
