/**
 * Account recovery for a lost second factor: a superuser removes every factor of a record
 * (`DELETE /api/collections/{c}/records/{id}/mfa`), which also ends its sessions and is audited;
 * nobody else can.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';
import { totpCode } from '../../src/auth/mfa/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`superuser reset of a record's second factors (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: token } : {} });

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 } });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', fields: [], totp: { enabled: true } });
    });
    after(async () => t.dispose());

    it('removes TOTP and recovery codes, ends sessions, audits; users cannot', async () => {
      const created = await inject('POST', '/api/collections/users/records', { email: 'lost@example.com', password, passwordConfirm: password });
      assert.equal(created.statusCode, 200, created.body);
      const id = (created.json() as { id: string }).id;
      await inject('POST', '/api/collections/users/records', { email: 'other@example.com', password, passwordConfirm: password });
      const session = (await inject('POST', '/api/collections/users/auth-with-password', { identity: 'lost@example.com', password })).json() as { token: string; refreshToken: string };
      const other = (await inject('POST', '/api/collections/users/auth-with-password', { identity: 'other@example.com', password })).json() as { token: string };
      const { secret } = (await inject('POST', '/api/collections/users/totp/enroll', {}, session.token)).json() as { secret: string };
      assert.equal((await inject('POST', '/api/collections/users/totp/confirm', { code: await totpCode(secret, Date.now() / 1000) }, session.token)).statusCode, 200);

      const asUser = await inject('DELETE', `/api/collections/users/records/${id}/mfa`, undefined, other.token);
      assert.equal(asUser.statusCode, 403, asUser.body);
      const unknown = await inject('DELETE', '/api/collections/users/records/zzzzzzzzzzzzzzz/mfa', undefined, t.superuserToken);
      assert.equal(unknown.statusCode, 404);

      const reset = await inject('DELETE', `/api/collections/users/records/${id}/mfa`, undefined, t.superuserToken);
      assert.equal(reset.statusCode, 204, reset.body);
      const rows = await t.app.db.all('SELECT record_id FROM _mfa_totp WHERE record_id = ?', [id]);
      assert.equal(rows.length, 0);
      assert.equal((await t.app.db.all('SELECT record_id FROM _mfa_recovery_codes WHERE record_id = ?', [id])).length, 0);
      assert.equal((await inject('POST', '/api/collections/users/auth-refresh', { refreshToken: session.refreshToken })).statusCode, 401, 'sessions ended');
      const audit = await t.app.audit.list(0, 1000, 'mfa.reset');
      assert.equal(audit.at(-1)?.target, `users/${id}`);
    });
  });
}
