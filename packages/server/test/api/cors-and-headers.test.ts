/**
 * Security headers on every answer, and CORS: any origin without credentials by default, an explicit
 * allow-list when configured; never the `null` origin, never credentials.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { loadConfig, ConfigError } from '../../src/app/index.ts';

const dialect = dialects()[0];

describe('security headers and CORS', () => {
  let open: TestApp;
  let strict: TestApp;
  before(async () => {
    open = await startTestApp(dialect);
    strict = await startTestApp(dialect, { corsOrigins: ['https://app.example.com'] });
  });
  after(async () => {
    await open.dispose();
    await strict.dispose();
  });

  it('every answer carries the security headers and a request id, errors too', async () => {
    for (const url of ['/api/health', '/api/collections/nope/records', '/api/nothing']) {
      const res = await open.app.http.inject({ method: 'GET', url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, url);
      assert.ok(res.headers['x-request-id'], url);
    }
  });

  it('the docs page keeps its own content security policy', async () => {
    const res = await open.app.http.inject({ method: 'GET', url: '/api/docs' });
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
  });

  it('by default any origin may read answers, never with credentials', async () => {
    const res = await open.app.http.inject({ method: 'GET', url: '/api/health', headers: { origin: 'https://anywhere.example' } });
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.match(String(res.headers['access-control-expose-headers']), /ETag/);
    const pre = await open.app.http.inject({ method: 'OPTIONS', url: '/api/collections/posts/records', headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } });
    assert.equal(pre.statusCode, 204);
    assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
    assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
  });

  it('with an allow-list, only listed origins get CORS headers', async () => {
    const ok = await strict.app.http.inject({ method: 'GET', url: '/api/health', headers: { origin: 'https://app.example.com' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(ok.headers.vary), /Origin/);
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example']) {
      const res = await strict.app.http.inject({ method: 'GET', url: '/api/health', headers: { origin } });
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
      const pre = await strict.app.http.inject({ method: 'OPTIONS', url: '/api/health', headers: { origin, 'access-control-request-method': 'GET' } });
      assert.equal(pre.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(pre.headers['access-control-allow-methods'], undefined, origin);
    }
  });

  it('configuration refuses the null origin and malformed origins', () => {
    for (const bad of ['null', 'https://app.example.com/path', '*.example.com', 'ftp://x']) {
      assert.throws(() => loadConfig({}, { BASALT_CORS_ORIGINS: bad }), ConfigError, bad);
    }
    assert.deepEqual(loadConfig({}, { BASALT_CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins, ['https://a.example', 'http://localhost:5173']);
  });
});
