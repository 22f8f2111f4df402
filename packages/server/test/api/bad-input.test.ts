/**
 * Bad input gets a clear 4xx problem+json with a stable code, never a 500, never a half-applied write.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

const json = { 'content-type': 'application/json' };

for (const dialect of dialects()) {
  describe(`bad input (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect, { bodyLimit: 64 * 1024 });
      await createCollection(t, {
        name: 'things', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text', required: true }, { name: 'n', type: 'number' }, { name: 'ok', type: 'bool' },
          { name: 'when', type: 'date' }, { name: 'mail', type: 'email' }, { name: 'site', type: 'url' }, { name: 'data', type: 'json' },
          { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 2 },
        ],
      });
      await createRecord(t, 'things', { id: 'thing0000000001', title: 'first', n: 1 });
    });
    after(async () => t.dispose());

    runScenarios(() => t, [
      { name: 'malformed JSON', method: 'POST', url: '/api/collections/things/records', headers: json, body: '{"title": ', expectedStatus: 400, expectedCode: 'json_invalid' },
      { name: 'JSON that is not an object', method: 'POST', url: '/api/collections/things/records', body: [1, 2], expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: '__proto__ key', method: 'POST', url: '/api/collections/things/records', headers: json, body: '{"title":"x","__proto__":{"admin":true}}', expectedStatus: 400 },
      { name: 'constructor key', method: 'POST', url: '/api/collections/things/records', headers: json, body: '{"title":"x","constructor":{"prototype":{"x":1}}}', expectedStatus: 400 },
      {
        name: 'wrong types for every field', method: 'POST', url: '/api/collections/things/records',
        body: { title: 5, n: '5', ok: 'yes', when: 'yesterday', mail: 'not-an-email', site: 'javascript:alert(1)', tags: 'c' },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"title"', '"n"', '"ok"', '"when"', '"mail"', '"site"', '"tags"'],
      },
      { name: 'unknown field', method: 'POST', url: '/api/collections/things/records', body: { title: 'x', nope: 1 }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"nope"'] },
      { name: 'fields the client reads back are ignored on write', method: 'POST', url: '/api/collections/things/records', body: { title: 'echo', collectionId: 'x', collectionName: 'y', expand: {} }, expectedStatus: 200 },
      { name: 'oversize body', method: 'POST', url: '/api/collections/things/records', body: { title: 'x'.repeat(70 * 1024) }, expectedStatus: 413, expectedCode: 'body_too_large' },
      { name: 'unsupported content type', method: 'POST', url: '/api/collections/things/records', headers: { 'content-type': 'application/xml' }, body: '<a/>', expectedStatus: 415, expectedCode: 'unsupported_media_type' },
      {
        name: 'huge perPage is capped', method: 'GET', url: '/api/collections/things/records?perPage=100000000', expectedStatus: 200, expectedContent: ['"perPage":1000'],
      },
      { name: 'negative page is clamped', method: 'GET', url: '/api/collections/things/records?page=-5', expectedStatus: 200, expectedContent: ['"page":1'] },
      { name: 'unknown collection', method: 'GET', url: '/api/collections/nope/records', expectedStatus: 404, expectedCode: 'collection_not_found' },
      { name: 'unknown field in filter', method: 'GET', url: '/api/collections/things/records?filter=nope%3D1', expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'unknown field in sort', method: 'GET', url: '/api/collections/things/records?sort=-nope', expectedStatus: 400, expectedCode: 'sort_invalid' },
      { name: 'SQL in sort', method: 'GET', url: `/api/collections/things/records?sort=${encodeURIComponent('title; DROP TABLE things')}`, expectedStatus: 400, expectedCode: 'sort_invalid' },
      { name: 'SQL in a filter value stays a value', method: 'GET', url: `/api/collections/things/records?filter=${encodeURIComponent(`title = "x' OR 1=1 --"`)}`, expectedStatus: 200, expectedContent: ['"totalItems":0'] },
      { name: 'SQL after a filter', method: 'GET', url: `/api/collections/things/records?filter=${encodeURIComponent('title = "x"; DROP TABLE things --')}`, expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'quotes in a field name', method: 'GET', url: `/api/collections/things/records?filter=${encodeURIComponent('"ti"tle" = 1')}`, expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'deeply nested filter', method: 'GET', url: `/api/collections/things/records?filter=${encodeURIComponent('('.repeat(500) + 'n=1' + ')'.repeat(500))}`, expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'repeated query parameter', method: 'GET', url: '/api/collections/things/records?filter=n%3D1&filter=n%3D2', expectedStatus: 400, expectedCode: 'bad_request' },
      { name: 'invalid id on view', method: 'GET', url: `/api/collections/things/records/${encodeURIComponent("x' OR '1'='1")}`, expectedStatus: 404, expectedCode: 'record_not_found' },
      { name: 'invalid client id on create', method: 'POST', url: '/api/collections/things/records', body: { id: 'UPPER-case!', title: 'x' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"id"'] },
      { name: 'id cannot change on update', method: 'PATCH', url: '/api/collections/things/records/thing0000000001', body: { id: 'other0000000001' }, expectedStatus: 400, expectedCode: 'validation_failed' },
      { name: 'invalid token', method: 'GET', url: '/api/collections/things/records', headers: { authorization: 'Bearer not.a.token' }, expectedStatus: 401, expectedCode: 'token_invalid' },
      { name: 'unknown route', method: 'GET', url: '/api/nothing/here', expectedStatus: 404, expectedCode: 'not_found' },
      { name: 'bad expand', method: 'GET', url: '/api/collections/things/records?expand=title', expectedStatus: 400, expectedCode: 'expand_invalid' },
      { name: 'bad fields', method: 'GET', url: `/api/collections/things/records?fields=${encodeURIComponent('id,(select 1)')}`, expectedStatus: 400, expectedCode: 'bad_request' },
    ]);

    it('a failed update leaves the record as it was', async () => {
      const res = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/things/records/thing0000000001', payload: { title: 'changed', n: 'not a number' } });
      assert.equal(res.statusCode, 400);
      const rec = (await t.app.http.inject({ method: 'GET', url: '/api/collections/things/records/thing0000000001' })).json() as Record<string, unknown>;
      assert.equal(rec.title, 'first');
      assert.equal(rec.n, 1);
    });

    it('random filters, sorts and bodies never cause a 5xx and never change data they should not', async () => {
      const before = (await t.app.http.inject({ method: 'GET', url: '/api/admin/changes?after=0&limit=1000', headers: { authorization: t.superuserToken } })).json() as { lastSeq: number };
      const hostile = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.constantFrom('"', "'", '\\', '%', '_', '--', ';', '/*', '@request.auth.id', '@collection.things.title', '?=', '~', '!~', ':length', ':isset', '(', ')', '&&', '||', 'null', 'true', '1e309', 'NaN'),
      );
      const expr = fc.array(hostile, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(' '));
      await fc.assert(
        fc.asyncProperty(expr, hostile, fc.jsonValue({ maxDepth: 2 }), async (filter, sort, body) => {
          const list = await t.app.http.inject({ method: 'GET', url: `/api/collections/things/records?filter=${encodeURIComponent(filter)}&sort=${encodeURIComponent(sort)}` });
          assert.ok(list.statusCode < 500, `${filter} | ${sort} → ${list.statusCode} ${list.body}`);
          const write = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/things/records/thing0000000001', headers: json, payload: JSON.stringify(body) });
          assert.ok(write.statusCode < 500, `${JSON.stringify(body)} → ${write.statusCode} ${write.body}`);
          if (write.statusCode !== 200) {
            const rec = (await t.app.http.inject({ method: 'GET', url: '/api/collections/things/records/thing0000000001' })).json() as Record<string, unknown>;
            assert.equal(rec.title, 'first');
          } else {
            // Restore, so that later runs check against a known record.
            await t.app.http.inject({ method: 'PATCH', url: '/api/collections/things/records/thing0000000001', payload: { title: 'first', n: 1 } });
          }
        }),
        { numRuns: 150 },
      );
      const afterLog = (await t.app.http.inject({ method: 'GET', url: `/api/admin/changes?after=${before.lastSeq}&limit=1000`, headers: { authorization: t.superuserToken } })).json() as { items: { recordId: string }[] };
      assert.ok(afterLog.items.every((e) => e.recordId === 'thing0000000001'));
    });

    it('random NUL characters and deep nesting in every parameter and body position never cause a 5xx or a write', async () => {
      const before = (await t.app.http.inject({ method: 'GET', url: '/api/admin/changes?after=0&limit=1000', headers: { authorization: t.superuserToken } })).json() as { lastSeq: number };
      // A string with a NUL somewhere in it.
      const nulString = fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([a, b]) => `${a}\u0000${b}`);
      // JSON text that nests past the limit (65–5,000 levels), of arrays or objects (as text: the test's own
      // JSON.stringify would overflow on it).
      const deep = fc.tuple(fc.integer({ min: 65, max: 5000 }), fc.boolean()).map(([n, arrays]) => (arrays ? '['.repeat(n) + ']'.repeat(n) : '{"k":'.repeat(n) + '1' + '}'.repeat(n)));
      const POISON = '__poison__';
      // JSON text of a random value with `poison` at a random path inside it (a NUL string also as a key).
      const poisoned = (poison: fc.Arbitrary<string>, asJson: boolean) => fc.tuple(fc.jsonValue({ maxDepth: 2 }), poison, fc.array(fc.constantFrom('title', 'n', 'data', 'tags', 'tags+', 'n+', '+tags', 'x'), { minLength: 1, maxLength: 3 }), fc.boolean())
        .map(([base, p, path, asKey]) => {
          const root: Record<string, unknown> = typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...base } : { title: base };
          let cur = root;
          for (const key of path.slice(0, -1)) cur = (cur[key] = {}) as Record<string, unknown>;
          if (!asJson && asKey) cur[p] = 1;
          else cur[path[path.length - 1]] = asJson ? POISON : p;
          const text = JSON.stringify(root);
          return asJson ? text.replace(JSON.stringify(POISON), p) : text;
        });
      const body = fc.oneof(poisoned(nulString, false), poisoned(deep, true));
      const param = fc.constantFrom('filter', 'sort', 'expand', 'fields', 'cursor', 'page', 'perPage', 'skipTotal', 'other');
      const where = fc.constantFrom('create', 'update', 'batch', 'form', 'signin', 'query', 'path');
      await fc.assert(
        fc.asyncProperty(where, body, param, nulString, async (at, value, name, text) => {
          let res;
          if (at === 'create') res = await t.app.http.inject({ method: 'POST', url: '/api/collections/things/records', headers: json, payload: value });
          else if (at === 'update') res = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/things/records/thing0000000001', headers: json, payload: value });
          else if (at === 'batch') {
            res = await t.app.http.inject({ method: 'POST', url: '/api/batch', headers: json, payload: `{"requests":[{"method":"PATCH","url":"/api/collections/things/records/thing0000000001","body":${value}}]}` });
          } else if (at === 'form') {
            const boundary = 'fuzz-boundary';
            const payload = `--${boundary}\r\nContent-Disposition: form-data; name="@jsonPayload"\r\n\r\n${value}\r\n--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n${text}\r\n--${boundary}--\r\n`;
            res = await t.app.http.inject({ method: 'POST', url: '/api/collections/things/records', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
          } else if (at === 'signin') {
            res = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers: json, payload: `{"identity":${JSON.stringify(text)},"password":"x","extra":${value}}` });
          } else if (at === 'query') res = await t.app.http.inject({ method: 'GET', url: `/api/collections/things/records?${name}=${encodeURIComponent(text)}` });
          else res = await t.app.http.inject({ method: 'GET', url: `/api/collections/things/records/${encodeURIComponent(text)}` });
          assert.ok(res.statusCode < 500, `${at} ${name} ${value.slice(0, 200)} → ${res.statusCode} ${res.body}`);
          assert.ok(res.statusCode >= 400, `${at}: a NUL or deep value was accepted → ${res.statusCode} ${res.body.slice(0, 200)}`);
          assert.ok(typeof (res.json() as { code?: unknown }).code === 'string', res.body);
        }),
        { numRuns: 150 },
      );
      const afterLog = (await t.app.http.inject({ method: 'GET', url: `/api/admin/changes?after=${before.lastSeq}&limit=1000`, headers: { authorization: t.superuserToken } })).json() as { items: unknown[] };
      assert.equal(afterLog.items.length, 0, 'no write');
    });
  });
}
