/**
 * Metrics are not public: by default `GET /metrics` does not exist on the public port (404 like any
 * unknown path); a metrics token unlocks it there for `Authorization: Bearer <token>` only (401
 * `metrics_unauthorized` otherwise); a separate listener serves them on an address of its own (and
 * then never on the public port). Real sockets, as Prometheus scrapes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

const TOKEN = 'metrics-test-token-0123456789';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; code?: string; body: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code, body, headers: res.headers };
}

for (const dialect of dialects()) {
  describe(`metrics are protected (${dialect})`, () => {
    describe('default: off the public port', () => {
      let t: TestApp;
      let base: string;
      before(async () => {
        t = await startTestApp(dialect);
        base = await t.app.listen();
      });
      after(async () => t.dispose());

      it('the public port answers 404 not_found over a real socket, with or without credentials', async () => {
        for (const headers of [{}, bearer(TOKEN), { authorization: t.superuserToken }]) {
          const r = await get(`${base}/metrics`, headers);
          assert.equal(r.status, 404, r.body);
          assert.equal(r.code, 'not_found');
          assert.doesNotMatch(r.body, /basalt_http_requests_total/);
        }
        assert.equal(t.app.metricsUrl(), undefined, 'no metrics listener');
      });

      runScenarios(() => t, [
        { name: 'GET /metrics: 404 (as an unknown path)', method: 'GET', url: '/metrics', expectedStatus: 404, expectedCode: 'not_found', notExpectedContent: ['basalt_'] },
        { name: 'GET /metrics as superuser: still 404', method: 'GET', url: '/metrics', auth: 'superuser', expectedStatus: 404, expectedCode: 'not_found' },
      ]);
    });

    describe('with a token: on the public port for the token only', () => {
      let t: TestApp;
      let base: string;
      before(async () => {
        t = await startTestApp(dialect, { metrics: { token: TOKEN, http: null } });
        base = await t.app.listen();
      });
      after(async () => t.dispose());

      runScenarios(() => t, [
        { name: 'no credentials: 401', method: 'GET', url: '/metrics', expectedStatus: 401, expectedCode: 'metrics_unauthorized', notExpectedContent: ['basalt_http'] },
        { name: 'a wrong token: 401', method: 'GET', url: '/metrics', headers: bearer(`${TOKEN}x`), expectedStatus: 401, expectedCode: 'metrics_unauthorized' },
        { name: 'a prefix of the token: 401', method: 'GET', url: '/metrics', headers: bearer(TOKEN.slice(0, -1)), expectedStatus: 401, expectedCode: 'metrics_unauthorized' },
        { name: 'the token without the Bearer scheme: 401', method: 'GET', url: '/metrics', headers: { authorization: TOKEN }, expectedStatus: 401, expectedCode: 'metrics_unauthorized' },
        { name: 'the token as Basic credentials: 401', method: 'GET', url: '/metrics', headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, expectedStatus: 401, expectedCode: 'metrics_unauthorized' },
        { name: 'a superuser access token is not the metrics token: 401', method: 'GET', url: '/metrics', auth: 'superuser', expectedStatus: 401, expectedCode: 'metrics_unauthorized' },
        { name: 'the right token: 200 Prometheus text', method: 'GET', url: '/metrics', headers: bearer(TOKEN), expectedStatus: 200, expectedContent: ['basalt_http_requests_total', 'process_cpu_user_seconds_total'] },
        { name: 'the scheme is case-insensitive (RFC 7235)', method: 'GET', url: '/metrics', headers: { authorization: `bearer ${TOKEN}` }, expectedStatus: 200 },
      ]);

      it('over a real socket: 401 with a Bearer challenge, then 200 with the token', async () => {
        const denied = await get(`${base}/metrics`, bearer('wrong-token-wrong-token'));
        assert.equal(denied.status, 401);
        assert.equal(denied.code, 'metrics_unauthorized');
        assert.match(String(denied.headers.get('www-authenticate')), /^Bearer realm="metrics"/);
        const ok = await get(`${base}/metrics`, bearer(TOKEN));
        assert.equal(ok.status, 200);
        assert.match(String(ok.headers.get('content-type')), /^text\/plain/);
        assert.match(ok.body, /basalt_http_requests_total/);
        assert.equal(ok.headers.get('cache-control'), 'no-store');
      });
    });

    describe('a separate listener', () => {
      const cases = [
        { name: 'without a token', token: '' },
        { name: 'with a token', token: TOKEN },
      ];
      for (const c of cases) {
        it(`${c.name}: metrics on their own address, never on the public port`, async (tc) => {
          const t = await startTestApp(dialect, { metrics: { token: c.token, http: { host: '127.0.0.1', port: 0 } } });
          tc.after(() => t.dispose());
          const base = await t.app.listen();
          const metricsUrl = t.app.metricsUrl();
          assert.ok(metricsUrl && metricsUrl !== base, `a listener of its own: ${metricsUrl}`);
          // Traffic on the public port shows up in the metrics the listener serves.
          assert.equal((await get(`${base}/api/health`)).status, 200);

          for (const headers of [{}, bearer(TOKEN)]) {
            const pub = await get(`${base}/metrics`, headers);
            assert.equal(pub.status, 404, 'the public port has no /metrics');
            assert.equal(pub.code, 'not_found');
          }
          const ok = await get(`${metricsUrl}/metrics`, c.token ? bearer(c.token) : {});
          assert.equal(ok.status, 200, ok.body);
          assert.match(ok.body, /basalt_http_requests_total\{method="GET",route="\/api\/health",status_class="2xx"\} [1-9]/);
          if (c.token) {
            for (const headers of [{}, bearer('wrong-token-wrong-token')]) {
              const denied = await get(`${metricsUrl}/metrics`, headers);
              assert.equal(denied.status, 401);
              assert.equal(denied.code, 'metrics_unauthorized');
              assert.doesNotMatch(denied.body, /basalt_http/);
            }
          }
          // The listener serves metrics and nothing else: not the API.
          for (const path of ['/api/health', '/', '/metrics/x']) {
            const other = await get(`${metricsUrl}${path}`, c.token ? bearer(c.token) : {});
            assert.equal(other.status, 404, path);
            assert.equal(other.code, 'not_found', path);
          }
        });
      }

      it('closes with the app', async () => {
        const t = await startTestApp(dialect, { metrics: { token: '', http: { host: '127.0.0.1', port: 0 } } });
        await t.app.listen();
        const url = t.app.metricsUrl()!;
        assert.equal((await get(`${url}/metrics`)).status, 200);
        await t.dispose();
        await assert.rejects(fetch(`${url}/metrics`), 'nothing listens there any more');
      });
    });
  });
}
