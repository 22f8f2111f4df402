/**
 * Regression (security review, LOW): recovery codes kept working as a second factor after TOTP was
 * turned off for the collection, while TOTP codes did not. With TOTP off both are refused (403
 * `forbidden`, the code is not spent), and recovery codes cannot be regenerated; with TOTP back on the
 * same code works again.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';
import { totpCode } from '../../src/auth/mfa/index.ts';

const password = 'correct horse 1';
const now = () => Date.now() / 1000;

for (const dialect of dialects()) {
  describe(`recovery codes follow the collection's TOTP switch (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: token } : {} });
    const setOptions = async (options: Record<string, unknown>) => {
      const res = await inject('PATCH', '/api/collections/users', options, t.superuserToken);
      assert.equal(res.statusCode, 200, res.body);
    };

    before(async () => {
      const rateLimits = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 };
      t = await startTestApp(dialect, { rateLimits });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', fields: [], totp: { enabled: true } });
    });
    after(async () => t.dispose());

    it('with TOTP off, recovery codes are refused like TOTP codes, unspent; with TOTP on again they work', async () => {
      const created = await inject('POST', '/api/collections/users/records', { email: 'r@example.com', password, passwordConfirm: password });
      assert.equal(created.statusCode, 200, created.body);
      const token = ((await inject('POST', '/api/collections/users/auth-with-password', { identity: 'r@example.com', password })).json() as { token: string }).token;
      const { secret } = (await inject('POST', '/api/collections/users/totp/enroll', {}, token)).json() as { secret: string };
      const confirmed = await inject('POST', '/api/collections/users/totp/confirm', { code: await totpCode(secret, now()) }, token);
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const [recoveryCode] = (confirmed.json() as { recoveryCodes: string[] }).recoveryCodes;

      await setOptions({ mfa: { enabled: true }, totp: { enabled: false } });
      const first = await inject('POST', '/api/collections/users/auth-with-password', { identity: 'r@example.com', password });
      assert.equal(first.statusCode, 401, first.body);
      const mfaId = (first.json() as { mfaId: string }).mfaId;
      for (const body of [{ mfaId, recoveryCode }, { mfaId, code: await totpCode(secret, now() + 30) }]) {
        const res = await inject('POST', '/api/collections/users/auth-with-totp', body);
        assert.equal(res.statusCode, 403, res.body);
        assert.equal((res.json() as { code: string }).code, 'forbidden');
      }
      const regen = await inject('POST', '/api/collections/users/recovery-codes', { recoveryCode }, token);
      assert.equal(regen.statusCode, 403, regen.body);
      assert.equal((regen.json() as { code: string }).code, 'forbidden');

      await setOptions({ totp: { enabled: true } });
      const status = (await inject('GET', '/api/collections/users/mfa', undefined, token)).json() as { recoveryCodes: { remaining: number } };
      assert.equal(status.recoveryCodes.remaining, 10, 'refused attempts spent no code');
      const ok = await inject('POST', '/api/collections/users/auth-with-totp', { mfaId, recoveryCode });
      assert.equal(ok.statusCode, 200, ok.body);
      await setOptions({ mfa: { enabled: false } });
    });
  });
}
