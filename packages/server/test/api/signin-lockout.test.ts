/**
 * Regression (security review item 9): ten wrong passwords from anyone locked the owner's correct
 * password out for the window (429 per identity), and a record PATCH with `oldPassword` was an
 * unthrottled password oracle for a token holder. Now: 429 only per source and per (identity,
 * source) — the owner, from another address, still gets in — progressive delays per identity from
 * any source, and `oldPassword` spends the same budget and waits the same delays as a sign-in.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { roomInWindow } from '../support/rate-windows.ts';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';
const LIMIT = 4;
const BASE_DELAY = 100;

for (const dialect of dialects()) {
  describe(`sign-in lock-out and password guessing (${dialect})`, () => {
    let t: TestApp;
    const signIn = (identity: string, pw: string, ip: string) =>
      t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', remoteAddress: ip, payload: { identity, password: pw } });
    const timed = async <T>(work: () => Promise<T>): Promise<{ res: T; ms: number }> => {
      const start = performance.now();
      const res = await work();
      return { res, ms: performance.now() - start };
    };

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 100, signInPerIdentity: LIMIT, failureDelayMs: BASE_DELAY } });
      await createCollection(t, { name: 'users', type: 'auth', updateRule: 'id = @request.auth.id', fields: [] });
      for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.com']) await createRecord(t, 'users', { email, password, passwordConfirm: password, verified: true });
    });
    after(async () => t.dispose());

    it('an attacker\'s wrong passwords lock out only the attacker\'s source; the owner from another address signs in', async () => {
      await roomInWindow();
      for (let i = 0; i < LIMIT; i++) assert.equal((await signIn('alice@example.com', `wrong ${i} horse`, '10.20.0.1')).statusCode, 400);
      const attacker = await signIn('alice@example.com', password, '10.20.0.1');
      assert.equal(attacker.statusCode, 429, 'the attacker\'s source waits, even with the right password');
      assert.equal(attacker.json().code, 'rate_limited');
      const owner = await signIn('ALICE@example.com', password, '10.20.0.2');
      assert.equal(owner.statusCode, 200, `the owner is not locked out: ${owner.body}`);
    });

    it('guesses from many sources are slowed progressively per identity, without a 429', async () => {
      await roomInWindow();
      const times: number[] = [];
      for (let i = 0; i < LIMIT + 1; i++) {
        const { res, ms } = await timed(() => signIn('bob@example.com', `wrong ${i} horse`, `10.21.0.${i + 1}`));
        assert.equal(res.statusCode, 400, res.body);
        times.push(ms);
      }
      // The fourth failure on the identity waits BASE_DELAY * 2^2; the fifth twice that.
      assert.ok(times[3] >= BASE_DELAY * 4 - 20, `4th failure waited ${times[3]} ms`);
      assert.ok(times[4] >= BASE_DELAY * 8 - 20, `5th failure waited ${times[4]} ms`);
      assert.equal((await signIn('bob@example.com', password, '10.21.0.99')).statusCode, 200, 'no lock-out for the identity');
    });

    it('PATCH with oldPassword spends the sign-in budget and waits the sign-in delays (record route and batch)', async () => {
      await roomInWindow();
      const owner = (await signIn('carol@example.com', password, '10.22.0.1')).json() as { token: string; record: { id: string } };
      const stolen = owner.token;
      const url = `/api/collections/users/records/${owner.record.id}`;
      const guess = (i: number) => ({ password: 'a brand new passphrase', passwordConfirm: 'a brand new passphrase', oldPassword: `guess ${i} horse` });
      const results: { status: number; ms: number }[] = [];
      for (let i = 0; i < LIMIT - 1; i++) {
        const { res, ms } = await timed(() => t.app.http.inject({ method: 'PATCH', url, remoteAddress: '10.22.0.66', headers: { authorization: stolen }, payload: guess(i) }));
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().data.oldPassword.code, 'validation_invalid_old_password');
        assert.match(String(res.headers['ratelimit-policy']), /"signin-identity-ip";q=4;w=900/);
        results.push({ status: res.statusCode, ms });
      }
      // Sign-in, then 3 guesses: the third guess is the identity's 4th attempt.
      assert.ok(results[2].ms >= BASE_DELAY * 4 - 20, `a wrong oldPassword waits like a wrong sign-in (${results[2].ms} ms)`);
      const batch = await t.app.http.inject({ method: 'POST', url: '/api/batch', remoteAddress: '10.22.0.66', headers: { authorization: stolen }, payload: { requests: [{ method: 'PATCH', url, body: guess(9) }] } });
      assert.equal(batch.statusCode, 400, batch.body);
      // The guesser's budget for this account is spent: PATCH, batch and sign-in from that source are refused.
      const next = await t.app.http.inject({ method: 'PATCH', url, remoteAddress: '10.22.0.66', headers: { authorization: stolen }, payload: guess(10) });
      assert.equal(next.statusCode, 429, next.body);
      const batchNext = await t.app.http.inject({ method: 'POST', url: '/api/batch', remoteAddress: '10.22.0.66', headers: { authorization: stolen }, payload: { requests: [{ method: 'PATCH', url, body: guess(11) }] } });
      assert.equal(batchNext.statusCode, 429, batchNext.body);
      assert.equal((await signIn('carol@example.com', password, '10.22.0.66')).statusCode, 429);
      // The owner, elsewhere, is unaffected, and a PATCH without oldPassword is not counted.
      assert.equal((await signIn('carol@example.com', password, '10.22.0.2')).statusCode, 200);
      const plain = await t.app.http.inject({ method: 'PATCH', url, remoteAddress: '10.22.0.66', headers: { authorization: stolen }, payload: { emailVisibility: true } });
      assert.equal(plain.statusCode, 200, plain.body);
    });
  });
}
