/**
 * Regression (security review, LOW): `mfa.rule` of `_superusers` was ignored — superuser principals
 * bypass every rule, so the rule always held and MFA applied to every superuser. The MFA policy now
 * evaluates the rule against the superuser as a plain record: only matching superusers need a second
 * factor, at sign-in and at token refresh.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const OTHER = 'second-admin@example.com';

for (const dialect of dialects()) {
  describe(`mfa.rule applies to superusers (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'POST' | 'PATCH', url: string, payload: unknown, token?: string) =>
      t.app.http.inject({ method, url, payload: payload as object, headers: token ? { authorization: token } : {} });
    const signIn = (email: string) => inject('POST', '/api/collections/_superusers/auth-with-password', { identity: email, password: SUPERUSER_PASSWORD });
    const setMfa = async (mfa: Record<string, unknown>) => {
      const res = await inject('PATCH', '/api/collections/_superusers', { mfa }, t.superuserToken);
      assert.equal(res.statusCode, 200, res.body);
    };

    before(async () => {
      const rateLimits = { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 };
      t = await startTestApp(dialect, { rateLimits });
      await t.app.auth.upsertSuperuser(OTHER, SUPERUSER_PASSWORD);
    });
    after(async () => t.dispose());

    it('a superuser the rule does not match signs in with one factor; one it matches needs a second', async () => {
      await setMfa({ enabled: true, rule: `email = "${OTHER}"` });
      const spared = await signIn(SUPERUSER_EMAIL);
      assert.equal(spared.statusCode, 200, spared.body);
      const covered = await signIn(OTHER);
      assert.equal(covered.statusCode, 401, covered.body);
      assert.equal((covered.json() as { code: string }).code, 'mfa_required');

      await setMfa({ rule: `email = "${SUPERUSER_EMAIL}"` });
      assert.equal((await signIn(SUPERUSER_EMAIL)).statusCode, 401);
      assert.equal((await signIn(OTHER)).statusCode, 200);
      await setMfa({ enabled: false, rule: '' });
    });

    it('a one-factor session is renewed only while the rule does not cover its superuser', async () => {
      const res = await signIn(SUPERUSER_EMAIL);
      assert.equal(res.statusCode, 200, res.body);
      const { refreshToken } = res.json() as { refreshToken: string };
      await setMfa({ enabled: true, rule: `email = "${OTHER}"` });
      const renewed = await inject('POST', '/api/collections/_superusers/auth-refresh', { refreshToken });
      assert.equal(renewed.statusCode, 200, renewed.body);
      await setMfa({ rule: `email = "${SUPERUSER_EMAIL}"` });
      const next = (renewed.json() as { refreshToken: string }).refreshToken;
      const refused = await inject('POST', '/api/collections/_superusers/auth-refresh', { refreshToken: next });
      assert.equal(refused.statusCode, 401, refused.body);
      assert.equal((refused.json() as { code: string }).code, 'token_invalid');
      await setMfa({ enabled: false, rule: '' });
    });
  });
}
