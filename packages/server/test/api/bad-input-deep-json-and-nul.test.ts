/**
 * Deeply nested JSON and NUL characters are 400s with stable codes, before they reach SQL or a
 * recursive consumer (security review #12): a json value nested 5,000 levels was a 500 (RangeError) on
 * both dialects; a NUL in a cursor, a sign-in identity, a text or json value was a 500 on PostgreSQL.
 * Checked where input is decoded (every body parser, the URL, cursors) and in the field validators, for
 * every route that takes a body, so a new endpoint cannot forget it.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';
import { isBasaltError } from '../../src/errors/index.ts';
import { MAX_JSON_DEPTH } from '../../src/tools/index.ts';

const json = { 'content-type': 'application/json' };
const THING = 'thing0000000001';
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
/** A json value with `levels` levels of nesting (arrays), as a value. */
const nested = (levels: number): unknown => JSON.parse(deepArray(levels));

/** A multipart body with these text fields, as scenario members. */
function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  const boundary = '----basalt-nul-boundary';
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  return { body: `${parts.join('')}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/**
 * Every route of the app with its methods, from Fastify's route tree: path parameters filled with a
 * collection name or an id. New routes are covered without editing this test.
 */
function routesOf(t: TestApp): { path: string; methods: string[] }[] {
  const out: { path: string; methods: string[] }[] = [];
  const stack: string[] = [];
  for (const line of t.app.http.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const segment = m[2].replace(/:(idOrName\|:collection|collection|idOrName)\b/g, 'users').replace(/:[a-zA-Z]+/g, 'aaaaaaaaaaaaaaa').replace(/\*/g, 'x');
    stack.push(segment);
    out.push({ path: stack.join(''), methods: m[3].split(', ') });
  }
  return out;
}

for (const dialect of dialects()) {
  describe(`deep JSON and NUL characters (${dialect})`, () => {
    let t: TestApp;
    let firstSeq = 0;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, {
        name: 'things', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text' }, { name: 'mail', type: 'email' }, { name: 'site', type: 'url' }, { name: 'data', type: 'json' },
          { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 3 }, { name: 'when', type: 'date' },
        ],
      });
      await createCollection(t, { name: 'users', type: 'auth', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '', fields: [] });
      await createRecord(t, 'things', { id: THING, title: 'first', data: { ok: true } });
      await createRecord(t, 'users', { email: 'someone@example.com', password: 'a-long-password-1', passwordConfirm: 'a-long-password-1' });
      firstSeq = ((await t.app.http.inject({ method: 'GET', url: '/api/admin/changes?after=0&limit=1000', headers: { authorization: t.superuserToken } })).json() as { lastSeq: number }).lastSeq;
    });
    after(async () => t.dispose());

    const records = '/api/collections/things/records';
    const one = `${records}/${THING}`;
    runScenarios(() => t, [
      // Depth
      { name: 'a json value nested 5,000 levels (create)', method: 'POST', url: records, headers: json, body: `{"data":${deepArray(5000)}}`, expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: 'a json value nested 5,000 levels (update)', method: 'PATCH', url: one, headers: json, body: `{"data":${deepObject(5000)}}`, expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: 'a body nested 100,000 levels', method: 'POST', url: records, headers: json, body: deepArray(100_000), expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: `a body one level deeper than ${MAX_JSON_DEPTH}`, method: 'POST', url: records, headers: json, body: `{"data":${deepArray(MAX_JSON_DEPTH)}}`, expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: `a body exactly ${MAX_JSON_DEPTH} levels deep is fine`, method: 'POST', url: records, headers: json, body: `{"data":${deepArray(MAX_JSON_DEPTH - 1)}}`, expectedStatus: 200 },
      { name: 'a deep batch', method: 'POST', url: '/api/batch', headers: json, body: `{"requests":[{"method":"POST","url":"${records}","body":{"data":${deepArray(5000)}}}]}`, expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: 'a deep @jsonPayload', method: 'POST', url: records, ...form({ '@jsonPayload': `{"data":${deepArray(5000)}}` }), expectedStatus: 400, expectedCode: 'json_too_deep' },
      { name: 'a deep json form field', method: 'POST', url: records, ...form({ data: deepArray(5000) }), expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_json_too_deep'] },
      // NUL in bodies
      { name: 'NUL in a text value', method: 'POST', url: records, body: { title: 'a\u0000b' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"title":{"code":"validation_nul_character"'] },
      { name: 'NUL in an email value', method: 'POST', url: records, body: { mail: 'a\u0000@example.com' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"mail"'] },
      { name: 'NUL in a url value', method: 'PATCH', url: one, body: { site: 'https://example.com/\u0000' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"site"'] },
      { name: 'NUL in a date value', method: 'PATCH', url: one, body: { when: '2024-01-01\u0000' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"when"'] },
      { name: 'NUL deep in a json value', method: 'PATCH', url: one, body: { data: { a: [{ b: 'x\u0000' }] } }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"data":{"code":"validation_nul_character"'] },
      { name: 'NUL in a json key', method: 'PATCH', url: one, body: { data: { 'k\u0000': 1 } }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"data"'] },
      { name: 'NUL in a select value', method: 'PATCH', url: one, body: { tags: ['a\u0000b'] }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"tags"'] },
      { name: 'NUL in a modifier value', method: 'PATCH', url: one, body: { 'tags+': 'a\u0000b' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"tags+"'] },
      { name: 'NUL in a body key', method: 'POST', url: records, body: { 'title\u0000': 'x' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a record id', method: 'POST', url: records, body: { id: 'abc\u0000defghijklm' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a batch body', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'PATCH', url: one, body: { title: '\u0000' } }] }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a batch url', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'PATCH', url: `${records}/${THING}\u0000`, body: {} }] }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a form field', method: 'POST', url: records, ...form({ title: 'a\u0000b' }), expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"title"'] },
      // busboy already refuses a part header with a NUL as malformed multipart.
      { name: 'NUL in a form field name', method: 'POST', url: records, ...form({ 'ti\u0000tle': 'x' }), expectedStatus: 400, expectedCode: 'bad_request' },
      { name: 'NUL in @jsonPayload', method: 'POST', url: records, ...form({ '@jsonPayload': JSON.stringify({ title: '\u0000' }) }), expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a plain-text body', method: 'POST', url: records, headers: { 'content-type': 'text/plain' }, body: 'a\u0000b', expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a sign-in identity', method: 'POST', url: '/api/collections/users/auth-with-password', body: { identity: 'someone@example.com\u0000', password: 'a-long-password-1' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a sign-in password', method: 'POST', url: '/api/collections/users/auth-with-password', body: { identity: 'someone@example.com', password: '\u0000' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a superuser sign-in', method: 'POST', url: '/api/collections/_superusers/auth-with-password', body: { identity: '\u0000', password: 'x' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a password-reset request', method: 'POST', url: '/api/collections/users/request-password-reset', body: { email: 'someone\u0000@example.com' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in an OTP request', method: 'POST', url: '/api/collections/users/request-otp', body: { email: '\u0000' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'NUL in a collection definition', method: 'POST', url: '/api/collections', auth: 'superuser', body: { name: 'x\u0000', fields: [] }, expectedStatus: 400, expectedCode: 'validation_failed' },
      // NUL in the URL
      ...['filter', 'sort', 'expand', 'fields', 'cursor', 'page', 'perPage', 'skipTotal', 'anything'].map((p) => ({
        name: `NUL in the ${p} query parameter`, method: 'GET' as const, url: `${records}?${p}=a%00b`, expectedStatus: 400, expectedCode: 'url_invalid',
      })),
      { name: 'NUL in a query parameter name', method: 'GET', url: `${records}?a%00=1`, expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a view query (not the fast read path)', method: 'GET', url: `${one}?fields=id%00`, expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a record id in the path', method: 'GET', url: `${records}/thing00000000%00`, expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a collection name in the path', method: 'GET', url: '/api/collections/th%00ings/records', expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a write query', method: 'PATCH', url: `${one}?expand=%00`, body: { title: 'changed' }, expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a sign-in query (mfaId)', method: 'POST', url: '/api/collections/users/auth-with-password?mfaId=%00', body: { identity: 'someone@example.com', password: 'a-long-password-1' }, expectedStatus: 400, expectedCode: 'url_invalid' },
      // Cursors
      {
        name: 'NUL inside a cursor value', method: 'GET',
        url: `${records}?cursor=${Buffer.from(JSON.stringify({ s: 'id', v: ['thing\u0000'] })).toString('base64url')}`, expectedStatus: 400, expectedCode: 'cursor_invalid',
      },
      {
        name: 'a deeply nested cursor', method: 'GET',
        url: `${records}?cursor=${Buffer.from(`{"s":"id","v":[${deepArray(2000)}]}`).toString('base64url')}`, expectedStatus: 400, expectedCode: 'cursor_invalid',
      },
    ]);

    it('nothing was written by any refused request', async () => {
      const log = (await t.app.http.inject({ method: 'GET', url: `/api/admin/changes?after=${firstSeq}&limit=1000`, headers: { authorization: t.superuserToken } })).json() as { items: { recordId: string; op: string; data: Record<string, unknown> }[] };
      // Only the one valid create (64 levels deep) wrote.
      assert.equal(log.items.length, 1, JSON.stringify(log.items.map((i) => i.op)));
      const rec = (await t.app.http.inject({ method: 'GET', url: one })).json() as Record<string, unknown>;
      assert.equal(rec.title, 'first');
    });

    it('every route that takes a body refuses NUL characters and deep JSON; every route refuses a NUL in its URL', async () => {
      const routes = routesOf(t);
      assert.ok(routes.length > 30, `found ${routes.length} routes`);
      const withBody = routes.flatMap((r) => r.methods.filter((m) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m)).map((method) => ({ path: r.path, method })));
      const nulBody = JSON.stringify({ identity: 'a\u0000', password: 'b', email: 'c', title: 'd', name: 'e', token: 'f', code: 'g', requests: [] });
      for (const auth of [undefined, t.superuserToken]) {
        for (const { path, method } of withBody) {
          const headers: Record<string, string> = { ...json, ...(auth ? { authorization: auth } : {}) };
          const nul = await t.app.http.inject({ method: method as 'POST', url: path, headers, payload: nulBody });
          assert.ok(nul.statusCode < 500, `${method} ${path} NUL → ${nul.statusCode} ${nul.body}`);
          // A route may refuse earlier (authentication, unknown collection); it never takes the value.
          if (nul.statusCode === 400) assert.equal(nul.json().code, 'validation_failed', `${method} ${path}: ${nul.body}`);
          const deep = await t.app.http.inject({ method: method as 'POST', url: path, headers, payload: `{"x":${deepArray(5000)}}` });
          assert.ok(deep.statusCode < 500, `${method} ${path} deep → ${deep.statusCode} ${deep.body}`);
          if (deep.statusCode === 400) assert.equal(deep.json().code, 'json_too_deep', `${method} ${path}: ${deep.body}`);
        }
      }
      for (const r of routes) {
        for (const method of r.methods.filter((m) => m !== 'QUERY' && m !== 'TRACE')) {
          const res = await t.app.http.inject({ method: method as 'GET', url: `${r.path}?q=%00` });
          assert.equal(res.statusCode, 400, `${method} ${r.path}?q=%00 → ${res.statusCode}`);
          if (method !== 'HEAD') assert.equal(res.json().code, 'url_invalid');
        }
      }
    });

    it('the field validators refuse NUL characters and deep json from non-HTTP callers too', async () => {
      const ctx = { principal: { kind: 'superuser' as const, record: { id: 'x' } }, request: { auth: null, body: {}, query: {}, headers: {}, method: 'POST', context: 'default' } };
      for (const [body, field, code] of [
        [{ title: 'a\u0000' }, 'title', 'validation_nul_character'],
        [{ data: { deep: nested(200) } }, 'data', 'validation_json_too_deep'],
        [{ data: ['\u0000'] }, 'data', 'validation_nul_character'],
        [{ 'tags+': ['\u0000'] }, 'tags+', 'validation_nul_character'],
      ] as const) {
        await assert.rejects(t.app.records.create(ctx as never, 'things', body), (e: unknown) => {
          assert.ok(isBasaltError(e) && e.code === 'validation_failed', String(e));
          assert.equal((e.data as Record<string, { code: string }>)[field]?.code, code, JSON.stringify(e.data));
          return true;
        });
        await assert.rejects(t.app.records.update(ctx as never, 'things', THING, body), (e: unknown) => isBasaltError(e) && e.code === 'validation_failed');
      }
    });

    it('the fast read path leaves such requests to Fastify, which answers them', async () => {
      const base = await t.app.listen();
      const served = t.app.fastReadsServed();
      const ok = await fetch(`${base}${one}`);
      assert.equal(ok.status, 200);
      for (const url of [`${one}?x=%00`, `${records}/thing000000000%00`, `${one}%00`]) {
        const res = await fetch(`${base}${url}`);
        assert.equal(res.status, 400, url);
        assert.equal(((await res.json()) as { code: string }).code, 'url_invalid', url);
      }
      assert.equal(t.app.fastReadsServed(), served + (t.app.config.fastReads ? 1 : 0));
    });
  });
}
