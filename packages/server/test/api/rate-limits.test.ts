/**
 * Abuse limits on sign-in, sign-up and refresh: 429 with Retry-After and the IETF RateLimit headers,
 * per IP and per identity, windows that end (no permanent lockout), progressive delays on failures.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';
import { roomInWindow } from '../support/rate-windows.ts';

for (const dialect of dialects()) {
  describe(`rate limits (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 6, signInPerIdentity: 3, signUpPerIp: 2, refreshPerIp: 2, failureDelayMs: 1 } });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', fields: [] });
    });
    after(async () => t.dispose());

    const signUp = (email: string, ip = '10.0.0.1') => t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', remoteAddress: ip, payload: { email, password: 'correct horse 1', passwordConfirm: 'correct horse 1' } });
    const signIn = (identity: string, password: string, ip = '10.0.0.1') => t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', remoteAddress: ip, payload: { identity, password } });

    it('sign-ups per IP', async () => {
      await roomInWindow(3600);
      assert.equal((await signUp('a@example.com')).statusCode, 200);
      const second = await signUp('b@example.com');
      assert.equal(second.statusCode, 200);
      assert.match(String(second.headers['ratelimit-policy']), /"signup-ip";q=2;w=3600/);
      assert.match(String(second.headers.ratelimit), /"signup-ip";r=0;t=\d+/);
      const third = await signUp('c@example.com');
      assert.equal(third.statusCode, 429);
      assert.equal((third.json() as { code: string }).code, 'rate_limited');
      assert.ok(Number(third.headers['retry-after']) > 0);
      assert.equal((await signUp('c@example.com', '10.0.0.2')).statusCode, 200, 'another client is not affected');
      // Superusers are not limited.
      const su = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', remoteAddress: '10.0.0.1', headers: { authorization: t.superuserToken }, payload: { email: 'd@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1' } });
      assert.equal(su.statusCode, 200);
    });

    it('sign-in attempts per identity and source, with headers on every answer; the owner elsewhere is not locked out', async () => {
      await roomInWindow(900);
      const first = await signIn('a@example.com', 'wrong horse 1', '10.1.0.1');
      assert.equal(first.statusCode, 400);
      assert.match(String(first.headers['ratelimit-policy']), /"signin-ip";q=6;w=60, "signin-identity-ip";q=3;w=900/);
      assert.equal((await signIn('a@example.com', 'wrong horse 1', '10.1.0.1')).statusCode, 400);
      assert.equal((await signIn('a@example.com', 'wrong horse 1', '10.1.0.1')).statusCode, 400);
      const blocked = await signIn('a@example.com', 'correct horse 1', '10.1.0.1');
      assert.equal(blocked.statusCode, 429, 'that source waits for the window, even with the right password');
      assert.equal((await signIn('a@example.com', 'correct horse 1', '10.1.0.4')).statusCode, 200, 'the owner from another address signs in');
      assert.equal((await signIn('b@example.com', 'correct horse 1', '10.1.0.1')).statusCode, 200, 'other identities are not affected');
    });

    it('the window ends: no permanent lockout', async () => {
      await t.app.db.run('UPDATE _rate_limits SET win = win - 1');
      assert.equal((await signIn('a@example.com', 'correct horse 1', '10.1.0.1')).statusCode, 200);
    });

    it('sign-in attempts per IP, across identities', async () => {
      await roomInWindow(60);
      for (let i = 0; i < 6; i++) assert.notEqual((await signIn(`nobody${i}@example.com`, 'x-wrong-horse', '10.2.0.1')).statusCode, 429);
      assert.equal((await signIn('nobody9@example.com', 'x-wrong-horse', '10.2.0.1')).statusCode, 429);
    });

    it('refreshes per IP', async () => {
      await roomInWindow(60);
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh', remoteAddress: '10.3.0.1', payload: { refreshToken: 'x'.repeat(43) } })).statusCode);
      assert.deepEqual(codes, [401, 401, 429]);
    });
  });
}
