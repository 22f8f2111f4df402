/**
 * HTTPS: with a certificate and key configured, Basalt serves TLS and sends HSTS; configuration with
 * only one of the two files is refused at start.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'node:https';
import { startTestApp, type TestApp } from '../support/app.ts';
import { selfSignedCertificate, type TestCertificate } from '../support/tls.ts';
import { dialects } from '../support/databases.ts';
import { loadConfig, ConfigError } from '../../src/app/index.ts';

describe('HTTPS listener', () => {
  let dir: string;
  let t: TestApp;
  let cert: Buffer;
  let tls: TestCertificate;
  before(async () => {
    tls = selfSignedCertificate();
    dir = tls.dir;
    cert = tls.cert;
    t = await startTestApp(dialects()[0], { tlsCert: tls.certFile, tlsKey: tls.keyFile });
  });
  after(async () => {
    await t.dispose();
    tls.cleanup();
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
