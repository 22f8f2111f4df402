/**
 * Regression (security review item 7): ending a session did not end its access token. After
 * `DELETE …/auth-sessions/others`, the logout of one or of all sessions, the ended sessions' access
 * tokens still read data until they expired. Now every request with a session-bound token checks that
 * its session is live: on the node that ended it at once, on other nodes within 2 s.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { createApp, loadConfig, type BasaltApp } from '../../src/app/index.ts';
import { SESSION_LIVE_TTL_MS } from '../../src/auth/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`ending a session ends its access tokens (${dialect})`, () => {
    let t: TestApp;
    let noteId: string;
    const rl = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, refreshPerIp: 0, failureDelayMs: 0 };
    const inject = (app: BasaltApp, method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: unknown) =>
      app.http.inject({ method, url, payload: payload as object, headers: token ? { authorization: token } : {} });
    const read = (token: string, app: BasaltApp = t.app) => inject(app, 'GET', `/api/collections/notes/records/${noteId}`, token);
    const signIn = async (email: string) => {
      const res = await inject(t.app, 'POST', '/api/collections/users/auth-with-password', undefined, { identity: email, password });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { token: string; refreshToken: string };
    };
    const sid = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sid: string }).sid;

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: rl });
      await createCollection(t, { name: 'users', type: 'auth', fields: [] });
      await createCollection(t, { name: 'notes', type: 'base', viewRule: '@request.auth.id != ""', fields: [{ name: 'title', type: 'text' }] });
      noteId = String((await createRecord(t, 'notes', { title: 'hello' })).id);
      for (const email of ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com', 'e@example.com']) {
        await createRecord(t, 'users', { email, password, passwordConfirm: password, verified: true });
      }
    });
    after(async () => t.dispose());

    it('"end other sessions": the other sessions\' access tokens are refused at once; the current one works', async () => {
      const a = await signIn('a@example.com');
      const b = await signIn('a@example.com');
      assert.equal((await read(b.token)).statusCode, 200, 'warm: the session is cached as live');
      const end = await inject(t.app, 'DELETE', '/api/collections/users/auth-sessions/others', a.token);
      assert.equal(end.statusCode, 204, end.body);
      const after = await read(b.token);
      assert.equal(after.statusCode, 401, after.body);
      assert.equal(after.json().code, 'token_invalid');
      assert.equal((await read(a.token)).statusCode, 200);
    });

    it('ending one session by id, and logging out one session, end their access tokens', async () => {
      const a = await signIn('b@example.com');
      const b = await signIn('b@example.com');
      assert.equal((await read(b.token)).statusCode, 200);
      assert.equal((await inject(t.app, 'DELETE', `/api/collections/users/auth-sessions/${sid(b.token)}`, a.token)).statusCode, 204);
      assert.equal((await read(b.token)).statusCode, 401);
      assert.equal((await read(a.token)).statusCode, 200);
      assert.equal((await inject(t.app, 'POST', '/api/collections/users/auth-logout', a.token, { refreshToken: a.refreshToken })).statusCode, 204);
      assert.equal((await read(a.token)).statusCode, 401);
    });

    it('logout of all sessions ends every access token, the caller\'s own included', async () => {
      const a = await signIn('c@example.com');
      const b = await signIn('c@example.com');
      assert.equal((await read(a.token)).statusCode, 200);
      assert.equal((await read(b.token)).statusCode, 200);
      assert.equal((await inject(t.app, 'POST', '/api/collections/users/auth-logout', a.token, { all: true })).statusCode, 204);
      assert.equal((await read(a.token)).statusCode, 401);
      assert.equal((await read(b.token)).statusCode, 401);
    });

    it('the fast read path (real socket) refuses an ended session\'s token too', async () => {
      // Closed with the app (dispose).
      const base = await t.app.listen();
      {
        const a = await signIn('d@example.com');
        const b = await signIn('d@example.com');
        const get = (token: string) => fetch(`${base}/api/collections/notes/records/${noteId}`, { headers: { authorization: token } });
        assert.equal((await get(b.token)).status, 200);
        const served = t.app.fastReadsServed();
        assert.ok(served > 0, 'the fast path answered');
        assert.equal((await inject(t.app, 'DELETE', '/api/collections/users/auth-sessions/others', a.token)).statusCode, 204);
        assert.equal((await get(b.token)).status, 401);
      }
    });

    it('a session ended on one node is refused on another node within 2 s', async () => {
      const other = await createApp(t.app.config, { logger: pino({ level: 'silent' }) });
      try {
        const a = await signIn('e@example.com');
        const b = await signIn('e@example.com');
        assert.equal((await read(b.token, other)).statusCode, 200, 'the other node caches the session as live');
        assert.equal((await inject(t.app, 'DELETE', '/api/collections/users/auth-sessions/others', a.token)).statusCode, 204);
        assert.ok(SESSION_LIVE_TTL_MS <= 2000);
        await new Promise((r) => setTimeout(r, SESSION_LIVE_TTL_MS + 50));
        assert.equal((await read(b.token, other)).statusCode, 401);
        assert.equal((await read(a.token, other)).statusCode, 200);
      } finally {
        await other.close();
      }
    });
  });
}
