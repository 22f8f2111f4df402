/**
 * HTTPS: with a certificate and key configured, Basalt serves TLS and sends HSTS; configuration with
 * only one of the two files is refused at start.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { startTestApp, type TestApp } from '../support/app.ts';
import { dialects } from '../support/databases.ts';
import { loadConfig, ConfigError } from '../../src/app/index.ts';

describe('HTTPS listener', () => {
  let dir: string;
  let t: TestApp;
  let cert: Buffer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'basalt-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    t = await startTestApp(dialects()[0], { tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
  });
  after(async () => {
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS with HSTS', async () => {
    const address = await t.app.listen();
    assert.match(address, /^https:/);
    const url = new URL('/api/health', address);
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(url, { ca: cert }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['strict-transport-security']), /max-age=31536000/);
  });

  it('refuses a certificate without its key', () => {
    assert.throws(() => loadConfig({}, { BASALT_TLS_CERT: join(dir, 'cert.pem') }), ConfigError);
    assert.throws(() => loadConfig({}, { BASALT_TLS_CERT: join(dir, 'nope.pem'), BASALT_TLS_KEY: join(dir, 'key.pem') }), ConfigError);
  });

  it('plain HTTP sends no HSTS', async () => {
    const plain = await startTestApp(dialects()[0]);
    try {
      const res = await plain.app.http.inject({ method: 'GET', url: '/api/health' });
      assert.equal(res.headers['strict-transport-security'], undefined);
    } finally {
      await plain.dispose();
    }
  });
});
