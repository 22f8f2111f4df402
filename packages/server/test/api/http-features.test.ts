/**
 * Batch transactions, Idempotency-Key, ETag / If-None-Match, the change log, health, metrics and the
 * live OpenAPI document.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

/** Unlocks /metrics on the public port (off without it; see metrics-protected.test.ts). */
const METRICS_TOKEN = 'http-features-metrics-token';

const create = (title: string) => ({ method: 'POST', url: '/api/collections/tasks/records', body: { title } });

for (const dialect of dialects()) {
  describe(`HTTP features (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect, { metrics: { token: METRICS_TOKEN, http: null } });
      await createCollection(t, {
        name: 'tasks', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [{ name: 'title', type: 'text', required: true, unique: true }, { name: 'done', type: 'bool' }],
      });
    });
    after(async () => t.dispose());

    const count = async (t: TestApp) => ((await t.app.http.inject({ method: 'GET', url: '/api/collections/tasks/records' })).json() as { totalItems: number }).totalItems;

    runScenarios(() => t, [
      {
        name: 'batch: all writes commit together', method: 'POST', url: '/api/batch',
        body: { requests: [create('a'), create('b'), { method: 'PUT', url: '/api/collections/tasks/records', body: { id: 'task00000000001', title: 'c' } }] },
        expectedStatus: 200, expectedContent: ['"status":200', '"title":"a"', '"title":"c"'], expectedEvents: { 'create:tasks': 3 },
        after: async (t) => assert.equal(await count(t), 3),
      },
      {
        name: 'batch: upsert updates an existing record, and update/delete work', method: 'POST', url: '/api/batch',
        body: { requests: [
          { method: 'PUT', url: '/api/collections/tasks/records', body: { id: 'task00000000001', title: 'c2' } },
          { method: 'PATCH', url: '/api/collections/tasks/records/task00000000001', body: { done: true } },
          { method: 'DELETE', url: '/api/collections/tasks/records/task00000000001' },
        ] },
        expectedStatus: 200, expectedContent: ['"title":"c2"', '"done":true', '"status":204'], expectedEvents: { 'update:tasks': 2, 'delete:tasks': 1 },
        after: async (t) => assert.equal(await count(t), 2),
      },
      {
        name: 'batch: one failure rolls every write back and names the failing request', method: 'POST', url: '/api/batch',
        body: { requests: [create('d'), create('e'), create('a')] },
        expectedStatus: 400, expectedCode: 'batch_failed', expectedContent: ['"requests":{"2":', 'validation_not_unique'],
        after: async (t) => assert.equal(await count(t), 2),
      },
      { name: 'batch: empty', method: 'POST', url: '/api/batch', body: { requests: [] }, expectedStatus: 400, expectedCode: 'batch_invalid' },
      { name: 'batch: not a record route', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'POST', url: '/api/collections', body: {} }] }, expectedStatus: 400, expectedCode: 'batch_invalid' },
      { name: 'batch: too many requests', method: 'POST', url: '/api/batch', body: { requests: Array.from({ length: 1001 }, (_, i) => create(`x${i}`)) }, expectedStatus: 400, expectedCode: 'batch_invalid' },
      { name: 'health', method: 'GET', url: '/api/health', expectedStatus: 200, expectedContent: ['"code":200'] },
      { name: 'change log needs a superuser', method: 'GET', url: '/api/admin/changes', expectedStatus: 401, expectedCode: 'unauthorized' },
      {
        name: 'change log lists committed writes in order', method: 'GET', url: '/api/admin/changes?after=0&limit=1000', auth: 'superuser', expectedStatus: 200,
        after: (_t, res) => {
          const body = JSON.parse(res.body) as { items: { seq: number; collection: string; op: string }[]; lastSeq: number };
          const tasks = body.items.filter((e) => e.collection === 'tasks').map((e) => e.op);
          assert.deepEqual(tasks, ['create', 'create', 'create', 'update', 'update', 'delete']);
          const seqs = body.items.map((e) => e.seq);
          assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
          assert.equal(body.lastSeq, seqs[seqs.length - 1]);
        },
      },
      {
        name: 'metrics are Prometheus text with route labels', method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` }, expectedStatus: 200,
        expectedContent: ['basalt_http_requests_total', 'route="/api/collections/:collection/records"', 'basalt_db_query_duration_seconds'],
      },
    ]);

    it('ETag and If-None-Match on reads', async () => {
      const first = await t.app.http.inject({ method: 'GET', url: '/api/collections/tasks/records' });
      const etag = String(first.headers.etag);
      assert.match(etag, /^W\/"/);
      const again = await t.app.http.inject({ method: 'GET', url: '/api/collections/tasks/records', headers: { 'if-none-match': etag } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
      await t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', payload: { title: 'changes the list' } });
      const changed = await t.app.http.inject({ method: 'GET', url: '/api/collections/tasks/records', headers: { 'if-none-match': etag } });
      assert.equal(changed.statusCode, 200);
    });

    it('Idempotency-Key: a replay returns the stored answer, another payload is a 422, no second write', async () => {
      const headers = { 'idempotency-key': 'key-1', 'content-type': 'application/json' };
      const first = await t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', headers, payload: JSON.stringify({ title: 'once' }) });
      assert.equal(first.statusCode, 200, first.body);
      const replay = await t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', headers, payload: JSON.stringify({ title: 'once' }) });
      assert.equal(replay.statusCode, 200);
      assert.equal(replay.body, first.body);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      const other = await t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', headers, payload: JSON.stringify({ title: 'twice' }) });
      assert.equal(other.statusCode, 422);
      assert.equal((other.json() as { code: string }).code, 'idempotency_key_reused');
      const list = (await t.app.http.inject({ method: 'GET', url: `/api/collections/tasks/records?filter=${encodeURIComponent('title = "once"')}` })).json() as { totalItems: number };
      assert.equal(list.totalItems, 1);
      // Keys are per caller: the superuser's "key-1" is a different key.
      const su = await t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', headers: { ...headers, authorization: t.superuserToken }, payload: JSON.stringify({ title: 'su once' }) });
      assert.equal(su.statusCode, 200);
    });

    it('Idempotency-Key is not honoured where answers carry credentials: sign-ins are never stored or replayed', async () => {
      const headers = { 'idempotency-key': 'signin-1', 'content-type': 'application/json' };
      const payload = JSON.stringify({ identity: 'root@example.com', password: 'a-long-test-password' });
      const stored = (await t.app.db.all('SELECT key FROM _idempotency')).length;
      const first = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers, payload });
      const second = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers, payload });
      assert.equal(first.statusCode, 200);
      assert.equal(second.statusCode, 200);
      assert.equal(second.headers['idempotent-replayed'], undefined);
      assert.notEqual((first.json() as { refreshToken: string }).refreshToken, (second.json() as { refreshToken: string }).refreshToken);
      assert.equal((await t.app.db.all('SELECT key FROM _idempotency')).length, stored, 'nothing stored');
    });

    it('Idempotency-Key: concurrent duplicates get 409 while the first is in flight', async () => {
      const headers = { 'idempotency-key': 'key-concurrent', 'content-type': 'application/json' };
      const results = await Promise.all(Array.from({ length: 5 }, () => t.app.http.inject({ method: 'POST', url: '/api/collections/tasks/records', headers, payload: JSON.stringify({ title: 'concurrent' }) })));
      const codes = results.map((r) => r.statusCode).sort();
      assert.ok(codes.includes(200));
      assert.ok(codes.every((c) => c === 200 || c === 409), codes.join(','));
      const list = (await t.app.http.inject({ method: 'GET', url: `/api/collections/tasks/records?filter=${encodeURIComponent('title = "concurrent"')}` })).json() as { totalItems: number };
      assert.equal(list.totalItems, 1);
    });

    it('serves a valid OpenAPI 3.1 document for the live schema, and the docs page', async () => {
      const res = await t.app.http.inject({ method: 'GET', url: '/api/openapi.json' });
      assert.equal(res.statusCode, 200);
      const doc = res.json() as { openapi: string; paths: Record<string, unknown> };
      assert.match(doc.openapi, /^3\.1/);
      assert.ok(doc.paths['/api/collections/tasks/records']);
      await SwaggerParser.validate(structuredClone(doc) as never);
      await createCollection(t, { name: 'later', fields: [{ name: 'x', type: 'number' }] });
      const again = (await t.app.http.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
      assert.ok(again.paths['/api/collections/later/records'], 'the document follows schema changes');
      const docs = await t.app.http.inject({ method: 'GET', url: '/api/docs' });
      assert.equal(docs.statusCode, 200);
      assert.match(String(docs.headers['content-type']), /text\/html/);
    });
  });
}
