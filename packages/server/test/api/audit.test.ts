/**
 * The audit trail records sign-ins and failures, refresh-token reuse, logouts, password changes and
 * every superuser action; only superusers read it; no secret ever lands in it.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';

for (const dialect of dialects()) {
  describe(`audit trail (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', updateRule: 'id = @request.auth.id', fields: [] });
      await createCollection(t, { name: 'notes', fields: [{ name: 'text', type: 'text' }] });
    });
    after(async () => t.dispose());

    const audit = async (action?: string) => {
      const res = await t.app.http.inject({ method: 'GET', url: `/api/admin/audit?limit=1000${action ? `&action=${action}` : ''}`, headers: { authorization: t.superuserToken } });
      assert.equal(res.statusCode, 200, res.body);
      return res;
    };
    type Entry = { action: string; outcome: string; actor: string; target: string; ip: string };
    const entries = async (action?: string) => ((await audit(action)).json() as { items: Entry[] }).items;

    it('records superuser actions on collections and records', async () => {
      const rec = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', headers: { authorization: t.superuserToken }, payload: { text: 'x' } });
      const id = (rec.json() as { id: string }).id;
      const all = await entries();
      assert.ok(all.some((e) => e.action === 'collection.create' && e.target === 'notes' && e.actor.startsWith('superuser:')));
      assert.ok(all.some((e) => e.action === 'record.create' && e.target === `notes/${id}`));
    });

    it('records sign-ins, failures, password changes, logouts and refresh-token reuse — without secrets', async () => {
      const pw = 'correct horse 1';
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'u@example.com', password: pw, passwordConfirm: pw } });
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'u@example.com', password: 'wrong horse 1' } });
      const ok = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'u@example.com', password: pw } })).json() as { token: string; refreshToken: string; record: { id: string } };
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh', payload: { refreshToken: ok.refreshToken } });
      await t.app.db.run(`UPDATE _refresh_tokens SET used = '2000-01-01 00:00:00.000Z' WHERE used != ''`);
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh', payload: { refreshToken: ok.refreshToken } });
      // Reuse ended that session and with it its access token: the password change comes from a new one.
      const again = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'u@example.com', password: pw } })).json() as { token: string };
      await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${ok.record.id}`, headers: { authorization: again.token }, payload: { oldPassword: pw, password: 'new horse 22', passwordConfirm: 'new horse 22' } });
      const signins = await entries('auth.signin');
      assert.ok(signins.some((e) => e.outcome === 'failure' && e.target === 'users:u@example.com' && e.ip !== ''));
      assert.ok(signins.some((e) => e.outcome === 'success' && e.target === `users/${ok.record.id}`));
      const auth = await entries('auth.');
      assert.ok(auth.some((e) => e.action === 'auth.refresh_reuse' && e.actor === `users:${ok.record.id}`));
      assert.ok(auth.some((e) => e.action === 'auth.password_change' && e.target === `users/${ok.record.id}`));
      const text = (await audit()).body;
      for (const secret of [pw, 'wrong horse 1', 'new horse 22', ok.refreshToken, ok.token, 'argon2']) assert.ok(!text.includes(secret), `no ${secret.slice(0, 12)} in the audit trail`);
    });

    it('is for superusers only', async () => {
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/admin/audit' })).statusCode, 401);
      const pw = 'correct horse 1';
      await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'v@example.com', password: pw, passwordConfirm: pw } });
      const v = (await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'v@example.com', password: pw } })).json() as { token: string };
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/admin/audit', headers: { authorization: v.token } })).statusCode, 403);
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/admin/audit?action=DROP%20TABLE', headers: { authorization: t.superuserToken } })).statusCode, 400);
    });
  });
}
