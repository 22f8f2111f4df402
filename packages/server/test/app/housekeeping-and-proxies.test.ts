/**
 * Client addresses behind trusted reverse proxies (rate limits, audit and sessions key on them), and
 * the housekeeping that bounds system tables: audit retention and expired refresh tokens.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { loadConfig, ConfigError } from '../../src/app/index.ts';

async function failedSignInIp(t: TestApp, headers: Record<string, string>): Promise<string> {
  const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers, payload: { identity: 'nobody@example.com', password: 'wrong password' } });
  assert.equal(res.statusCode, 400);
  const entries = await t.app.audit.list(0, 10_000, 'auth.signin');
  return entries.at(-1)!.ip;
}

for (const dialect of dialects()) {
  describe(`trusted proxies and housekeeping (${dialect})`, () => {
    let direct: TestApp;
    let proxied: TestApp;
    before(async () => {
      direct = await startTestApp(dialect);
      proxied = await startTestApp(dialect, { trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
    });
    after(async () => {
      await direct.dispose();
      await proxied.dispose();
    });

    it('without trusted proxies, X-Forwarded-For is ignored (a client cannot pick its rate-limit bucket)', async () => {
      assert.equal(await failedSignInIp(direct, { 'x-forwarded-for': '203.0.113.5' }), '127.0.0.1');
    });

    it('behind a trusted proxy, the client address is the first untrusted hop from the right', async () => {
      assert.equal(await failedSignInIp(proxied, { 'x-forwarded-for': '203.0.113.5' }), '203.0.113.5');
      // A forged left-most entry is not believed: 10.1.2.3 is a trusted proxy, 198.51.100.7 the client.
      assert.equal(await failedSignInIp(proxied, { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.1.2.3' }), '198.51.100.7');
    });

    it('per-IP sign-in limits count the forwarded client, not the proxy', async () => {
      const t = await startTestApp(dialect, { trustedProxies: ['127.0.0.1'], rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 2, failureDelayMs: 0 } });
      try {
        const attempt = (ip: string) => t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers: { 'x-forwarded-for': ip }, payload: { identity: `x${ip}@example.com`, password: 'wrong password' } });
        assert.equal((await attempt('203.0.113.1')).statusCode, 400);
        assert.equal((await attempt('203.0.113.1')).statusCode, 400);
        assert.equal((await attempt('203.0.113.1')).statusCode, 429);
        assert.equal((await attempt('203.0.113.2')).statusCode, 400, 'another client behind the same proxy has its own bucket');
      } finally {
        await t.dispose();
      }
    });

    it('audit retention deletes old entries and records that it did', async () => {
      const old = '2001-01-01 00:00:00.000Z';
      await direct.app.db.run("INSERT INTO _audit (created, action, outcome, actor, target, ip, details) VALUES (?, 'auth.signin', 'success', 'x', 'y', '', '{}')", [old]);
      assert.equal(await direct.app.audit.prune(0), 0, '0 days = keep forever');
      const removed = await direct.app.audit.prune(30);
      assert.ok(removed >= 1);
      const rows = await direct.app.db.all<{ created: string }>('SELECT created FROM _audit WHERE created = ?', [old]);
      assert.equal(rows.length, 0);
      const pruned = await direct.app.audit.list(0, 10_000, 'audit.prune');
      assert.equal(pruned.at(-1)?.details.deleted, removed);
    });

    it('expired refresh tokens are pruned; live ones stay', async () => {
      const signIn = await direct.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'root@example.com', password: 'a-long-test-password' } });
      assert.equal(signIn.statusCode, 200, signIn.body);
      await direct.app.db.run(
        "INSERT INTO _refresh_tokens (hash, family, collection_id, record_id, token_key_hash, generation, created, expires) VALUES ('h-expired', 'f-expired', 'c', 'r', 't', 0, ?, ?)",
        ['2001-01-01 00:00:00.000Z', '2001-01-02 00:00:00.000Z'],
      );
      const before = (await direct.app.db.all('SELECT hash FROM _refresh_tokens')).length;
      await direct.app.runHousekeeping();
      assert.equal((await direct.app.db.all("SELECT hash FROM _refresh_tokens WHERE hash = 'h-expired'")).length, 0);
      assert.equal((await direct.app.db.all('SELECT hash FROM _refresh_tokens')).length, before - 1);
      const refresh = await direct.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-refresh', payload: { refreshToken: (signIn.json() as { refreshToken: string }).refreshToken } });
      assert.equal(refresh.statusCode, 200, 'a live token still refreshes');
    });
  });
}

describe('trusted proxy configuration', () => {
  it('accepts IPs and CIDRs and refuses anything else at start', () => {
    assert.deepEqual(loadConfig({}, { BASALT_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1, ::1, fd00::/8' }).trustedProxies, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['*', 'localhost', '10.0.0.0/33', '10.0.0.0/8/1', '']) {
      assert.throws(() => loadConfig({}, { BASALT_TRUSTED_PROXIES: `1.2.3.4,${bad}x` }), ConfigError, bad);
    }
    assert.throws(() => loadConfig({}, { BASALT_AUDIT_RETENTION_DAYS: '-1' }), ConfigError);
  });
});
