/**
 * The fast read path (docs/decisions/006) gives the same answers as the Fastify path: two apps with the
 * same data, one with `fastReads` on and one off, get the same requests over real sockets (the fast path
 * lives in the server's request listener, which `inject()` bypasses), and must agree on status, body
 * and every header but the date.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';

const ALLOWED = 'https://app.example.com';
const IDS = { open: 'aaaaaaaaaaaaaa1', secretive: 'aaaaaaaaaaaaaa2', members: 'aaaaaaaaaaaaaa3' };

interface Answer { status: number; body: string; headers: Record<string, string> }

async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const res = await fetch(base + path, { method, headers });
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!['date', 'keep-alive', 'connection'].includes(k)) out[k] = v;
  });
  return { status: res.status, body: await res.text(), headers: out };
}

for (const dialect of dialects()) {
  describe(`fast read path answers like the Fastify path (${dialect})`, () => {
    const apps: { t: TestApp; base: string; user: string }[] = [];
    before(async () => {
      for (const fastReads of [true, false]) {
        const t = await startTestApp(dialect, { fastReads, corsOrigins: [ALLOWED], http: { host: '127.0.0.1', port: 0 } });
        await createCollection(t, { id: 'pbc_users_fixed', name: 'users', type: 'auth', createRule: '', fields: [] });
        await createCollection(t, {
          id: 'pbc_notes_fixed', name: 'notes', listRule: '', viewRule: 'public = true || @request.auth.id != ""',
          fields: [{ name: 'title', type: 'text' }, { name: 'public', type: 'bool' }, { name: 'internal', type: 'text', hidden: true }, { name: 'n', type: 'number' }],
        });
        await createRecord(t, 'notes', { id: IDS.open, title: 'open "quoted" ünïcödé', public: true, internal: 'never shown', n: 1.5 });
        await createRecord(t, 'notes', { id: IDS.secretive, title: 'members only', public: false, internal: 'x', n: 2 });
        await createRecord(t, 'users', { id: IDS.members, email: 'u@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1' });
        const address = await t.app.listen();
        const signIn = await fetch(`${address}/api/collections/users/auth-with-password`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identity: 'u@example.com', password: 'correct horse 1' }) });
        apps.push({ t, base: address, user: ((await signIn.json()) as { token: string }).token });
      }
    });
    after(async () => {
      for (const a of apps) await a.t.dispose();
    });

    const view = (id: string) => `/api/collections/notes/records/${id}`;
    const cases: { name: string; path: string; headers?: (user: string, etag: string) => Record<string, string>; method?: string }[] = [
      { name: 'anonymous view of a public record', path: view(IDS.open) },
      { name: 'a hidden field is not shown; unicode and quotes survive', path: view(IDS.open) },
      { name: 'an allowed Origin gets CORS headers', path: view(IDS.open), headers: () => ({ origin: ALLOWED }) },
      { name: 'another Origin gets none', path: view(IDS.open), headers: () => ({ origin: 'https://evil.example.com' }) },
      { name: 'a valid X-Request-Id is echoed', path: view(IDS.open), headers: () => ({ 'x-request-id': 'trace-123.abc' }) },
      { name: 'If-None-Match with the current ETag is a 304', path: view(IDS.open), headers: (_u, etag) => ({ 'if-none-match': etag }) },
      { name: 'If-None-Match with another ETag is a 200', path: view(IDS.open), headers: () => ({ 'if-none-match': 'W/"nope"' }) },
      { name: 'a signed-in user sees the members-only record (bare token)', path: view(IDS.secretive), headers: (user) => ({ authorization: user }) },
      { name: 'and with Bearer', path: view(IDS.secretive), headers: (user) => ({ authorization: `Bearer ${user}` }) },
      { name: 'anonymous: members-only record is a 404', path: view(IDS.secretive) },
      { name: 'a bad token is a 401 problem', path: view(IDS.open), headers: () => ({ authorization: 'Bearer not-a-token' }) },
      { name: 'an unknown id is a 404', path: view('zzzzzzzzzzzzzzz') },
      { name: 'an unknown collection is a 404', path: '/api/collections/nothing/records/aaaaaaaaaaaaaa1' },
      { name: 'a query string goes through Fastify on both', path: `${view(IDS.open)}?fields=title` },
      { name: 'HEAD goes through Fastify on both', path: view(IDS.open), method: 'HEAD' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const etagOf = async (a: (typeof apps)[number]) => (await get(a.base, view(IDS.open))).headers.etag ?? '';
        const [fast, slow] = await Promise.all(apps.map(async (a) => get(a.base, c.path, c.headers?.(a.user, await etagOf(a)) ?? {}, c.method)));
        const id = (h: Record<string, string>) => (c.headers?.('', '')['x-request-id'] ? h['x-request-id'] : 'generated');
        assert.equal(fast.status, slow.status, `status: ${fast.body} / ${slow.body}`);
        assert.ok(fast.status < 500);
        // Error answers carry the request id inside the problem body too.
        const strip = (a: Answer) => a.body.replace(/"requestId":"[^"]*"/, '');
        assert.equal(strip(fast), strip(slow));
        assert.deepEqual({ ...fast.headers, 'x-request-id': id(fast.headers) }, { ...slow.headers, 'x-request-id': id(slow.headers) });
        assert.ok(!fast.body.includes('never shown'));
      });
    }

    it('the fast app really answered plain views on the fast path, the other never did', async () => {
      const served = apps[0].t.app.fastReadsServed();
      await get(apps[0].base, view(IDS.open));
      await get(apps[1].base, view(IDS.open));
      assert.equal(apps[0].t.app.fastReadsServed(), served + 1);
      assert.equal(apps[1].t.app.fastReadsServed(), 0);
    });

    it('the server Basalt creates has the configured timeouts (keep-alive past load balancers\' 60 s, headers and request limits)', () => {
      for (const a of apps) {
        const t = a.t.app.config.timeouts;
        assert.equal(a.t.app.http.server.keepAliveTimeout, t.keepAliveMs);
        assert.equal(a.t.app.http.server.requestTimeout, t.requestMs);
        assert.ok(a.t.app.http.server.headersTimeout <= t.headersMs);
      }
    });

    it('fast answers are counted in the request metrics under the route pattern', async () => {
      const before = (await apps[0].t.app.metrics.render()).body;
      const count = (text: string) => Number(/basalt_http_requests_total\{method="GET",route="\/api\/collections\/:collection\/records\/:id",status_class="2xx"\} (\d+)/.exec(text)?.[1] ?? 0);
      await get(apps[0].base, view(IDS.open));
      const after = (await apps[0].t.app.metrics.render()).body;
      assert.equal(count(after), count(before) + 1);
    });
  });
}
