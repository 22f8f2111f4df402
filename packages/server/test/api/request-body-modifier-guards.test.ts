/**
 * `@request.body.<field>` guards cannot be bypassed with modifier keys (security review #6): rules see
 * every key that names a field under the field's name, with the value the write will store
 * (PocketBase's shape: `{"tags+": "b"}` on `["a"]` reads as `tags = ["a", "b"]`), on create, update,
 * batch and multipart forms. A caller a rule denies learns nothing about the record or the validation,
 * and a denied write changes nothing.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';

/** Every key form that writes `credits` or `badges`. */
const FORBIDDEN_BODIES: Record<string, unknown>[] = [
  { credits: 1000 }, { 'credits+': 1000 }, { '+credits': 1000 }, { 'credits-': -1000 },
  { badges: ['admin'] }, { 'badges+': 'admin' }, { '+badges': 'admin' }, { 'badges-': 'member' },
  { note: 'x', 'credits+': 1 }, { credits: 0, 'credits+': 5 },
];

const GUARD = '@request.body.credits:isset = false && @request.body.badges:isset = false';
const WALLET = 'wallet000000001';

/** A multipart body with the given text fields. */
function form(fields: Record<string, string>): { payload: string; headers: Record<string, string> } {
  const boundary = '----basalt-test-boundary';
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  return { payload: `${parts.join('')}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

for (const dialect of dialects()) {
  describe(`@request.body guards and modifiers (${dialect})`, () => {
    let t: TestApp;
    const state = async () => {
      const res = await t.app.http.inject({ method: 'GET', url: `/api/collections/wallets/records/${WALLET}`, headers: { authorization: t.superuserToken } });
      return res.json() as { credits: number; badges: string[]; note: string };
    };
    const count = async () => ((await t.app.http.inject({ method: 'GET', url: '/api/collections/wallets/records?perPage=1', headers: { authorization: t.superuserToken } })).json() as { totalItems: number }).totalItems;
    const changesAfter = async (seq: number) => ((await t.app.http.inject({ method: 'GET', url: `/api/admin/changes?after=${seq}&limit=100`, headers: { authorization: t.superuserToken } })).json() as { lastSeq: number; items: unknown[] });

    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, {
        name: 'wallets', listRule: '', viewRule: '', createRule: GUARD, updateRule: GUARD, deleteRule: null,
        fields: [
          { name: 'note', type: 'text' }, { name: 'credits', type: 'number' },
          { name: 'badges', type: 'select', values: ['member', 'admin', 'vip'], maxSelect: 3 },
        ],
      });
      // The stored value is what the rule reads: the number may not exceed 10, the list may not hold "admin".
      await createCollection(t, {
        name: 'counters', listRule: '', viewRule: '', createRule: '@request.body.n <= 10', updateRule: '(@request.body.n:isset = false || @request.body.n <= 10) && (@request.body.tags:isset = false || @request.body.tags:each != "admin")', deleteRule: null,
        fields: [{ name: 'n', type: 'number' }, { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'admin'], maxSelect: 4 }],
      });
      // A create rule on the record's own fields, to check the order of checks on create.
      await createCollection(t, {
        name: 'notes', listRule: '', viewRule: '', createRule: 'title != "forbidden"', updateRule: 'title != "locked"', deleteRule: 'title != "locked"',
        fields: [{ name: 'title', type: 'text' }, { name: 'n', type: 'number', max: 5 }],
      });
      await createRecord(t, 'wallets', { id: WALLET, note: 'mine', credits: 3, badges: ['member'] });
      await createRecord(t, 'counters', { id: 'counter00000001', n: 8, tags: ['a'] });
      await createRecord(t, 'notes', { id: 'locked000000001', title: 'locked' });
    });
    after(async () => t.dispose());

    it('create: every modifier form of a guarded field is denied and writes nothing', async () => {
      const before = await count();
      for (const body of FORBIDDEN_BODIES) {
        const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/wallets/records', payload: body });
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.body}`);
        assert.equal(res.json().code, 'record_create_denied', JSON.stringify(body));
      }
      assert.equal(await count(), before);
      const ok = await t.app.http.inject({ method: 'POST', url: '/api/collections/wallets/records', payload: { note: 'free' } });
      assert.equal(ok.statusCode, 200, ok.body);
    });

    it('update: every modifier form of a guarded field is a 404 and changes nothing', async () => {
      const { lastSeq } = await changesAfter(0);
      for (const body of FORBIDDEN_BODIES) {
        const res = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, payload: body });
        assert.equal(res.statusCode, 404, `${JSON.stringify(body)} → ${res.body}`);
        assert.equal(res.json().code, 'record_not_found');
      }
      assert.deepEqual(await state(), { ...(await state()), credits: 3, badges: ['member'], note: 'mine' });
      assert.equal((await changesAfter(lastSeq)).items.length, 0, 'no change event');
      const ok = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, payload: { note: 'renamed' } });
      assert.equal(ok.statusCode, 200, ok.body);
      await t.app.http.inject({ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, headers: { authorization: t.superuserToken }, payload: { note: 'mine' } });
    });

    it('batch: modifier forms in create and update requests fail the batch and write nothing', async () => {
      const before = await count();
      for (const body of FORBIDDEN_BODIES) {
        for (const request of [
          { method: 'POST', url: '/api/collections/wallets/records', body },
          { method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, body },
          { method: 'PUT', url: '/api/collections/wallets/records', body: { ...body, id: WALLET } },
        ]) {
          const res = await t.app.http.inject({
            method: 'POST', url: '/api/batch',
            payload: { requests: [{ method: 'POST', url: '/api/collections/wallets/records', body: { note: 'first of batch' } }, request] },
          });
          assert.equal(res.statusCode, 400, `${JSON.stringify(request)} → ${res.body}`);
          assert.equal(res.json().code, 'batch_failed');
          assert.ok(res.json().data.requests['1'], 'the second request failed');
        }
      }
      assert.equal(await count(), before, 'the first request of each batch was rolled back');
      assert.equal((await state()).credits, 3);
    });

    it('multipart: form fields and @jsonPayload with modifiers are denied', async () => {
      const before = await count();
      const bodies = [
        form({ 'credits+': '1000' }), form({ '+badges': 'admin' }), form({ 'badges-': 'member' }), form({ note: 'x', credits: '5' }),
        form({ '@jsonPayload': JSON.stringify({ 'credits+': 1000 }) }), form({ '@jsonPayload': JSON.stringify({ '+badges': 'admin' }), note: 'x' }),
        form({ note: 'x', '@jsonPayload': JSON.stringify({ 'badges+': ['vip'] }) }),
      ];
      for (const b of bodies) {
        const create = await t.app.http.inject({ method: 'POST', url: '/api/collections/wallets/records', ...b });
        assert.equal(create.statusCode, 400, `${b.payload} → ${create.body}`);
        assert.equal(create.json().code, 'record_create_denied');
        const update = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, ...b });
        assert.equal(update.statusCode, 404, `${b.payload} → ${update.body}`);
        const batch = await t.app.http.inject({
          method: 'POST', url: '/api/batch',
          ...form({ '@jsonPayload': JSON.stringify({ requests: [{ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, body: { 'credits+': 1 } }] }) }),
        });
        assert.equal(batch.statusCode, 400, batch.body);
      }
      assert.equal(await count(), before);
      assert.deepEqual([(await state()).credits, (await state()).badges], [3, ['member']]);
      const ok = await t.app.http.inject({ method: 'POST', url: '/api/collections/wallets/records', ...form({ note: 'form' }) });
      assert.equal(ok.statusCode, 200, ok.body);
    });

    it('rules read the value the write stores: modifiers applied to the current record', async () => {
      const patch = (payload: unknown) => t.app.http.inject({ method: 'PATCH', url: '/api/collections/counters/records/counter00000001', payload: payload as Record<string, unknown> });
      // 8 + 5 = 13 > 10: denied, though the body holds no "n" key.
      assert.equal((await patch({ 'n+': 5 })).statusCode, 404);
      // Plain key first, then the modifier (PocketBase's order): 5 + 10 = 15.
      assert.equal((await patch({ n: 5, 'n+': 10 })).statusCode, 404);
      assert.equal((await patch({ 'n-': -3 })).statusCode, 404);
      // 8 + 1 = 9: allowed; the answer shows the stored value.
      const ok = await patch({ 'n+': 1 });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().n, 9);
      // A multi-select modifier is read as the whole new list: ["a", "admin"] holds "admin".
      assert.equal((await patch({ 'tags+': 'admin' })).statusCode, 404);
      assert.equal((await patch({ '+tags': ['c', 'admin'] })).statusCode, 404);
      const tags = await patch({ 'tags+': 'b' });
      assert.equal(tags.statusCode, 200, tags.body);
      assert.deepEqual(tags.json().tags, ['a', 'b']);
      // Removing "admin" from a list that does not hold it keeps the rule true.
      assert.equal((await patch({ 'tags-': 'admin' })).statusCode, 200);
      // Create: the zero value plus the modifier.
      assert.equal((await t.app.http.inject({ method: 'POST', url: '/api/collections/counters/records', payload: { 'n+': 11 } })).json().code, 'record_create_denied');
      const created = await t.app.http.inject({ method: 'POST', url: '/api/collections/counters/records', payload: { 'n+': 4 } });
      assert.equal(created.statusCode, 200, created.body);
      assert.equal(created.json().n, 4);
    });

    it('keys that name no field are refused after the rule, and case does not reach another field', async () => {
      for (const body of [{ Credits: 1000 }, { 'CREDITS+': 1 }, { 'credits++': 1 }, { 'credits+ ': 1 }]) {
        const res = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/wallets/records/${WALLET}`, payload: body });
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.body}`);
        assert.equal(res.json().code, 'validation_failed');
      }
      assert.equal((await state()).credits, 3);
    });

    it('a denied caller learns neither existence nor validation details', async () => {
      // Update: a bad value under a guarded key is the same 404 as a missing record.
      for (const url of [`/api/collections/wallets/records/${WALLET}`, '/api/collections/wallets/records/missing00000001']) {
        const res = await t.app.http.inject({ method: 'PATCH', url, payload: { 'credits+': 'lots', bogus: 1 } });
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json().data, {});
      }
      // A rule on the record's own fields: a locked record with an invalid body is still a 404.
      const locked = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/notes/records/locked000000001', payload: { n: 'x' } });
      assert.equal(locked.statusCode, 404, locked.body);
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: '/api/collections/notes/records/locked000000001' })).statusCode, 404);
      // Create: the rule is checked on the draft before validation, unique or relation lookups.
      const create = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', payload: { title: 'forbidden', n: 99, bogus: true } });
      assert.equal(create.statusCode, 400, create.body);
      assert.equal(create.json().code, 'record_create_denied');
      assert.deepEqual(create.json().data, {});
      // An allowed caller with the same mistakes gets the details.
      const detailed = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', payload: { title: 'fine', n: 99, bogus: true } });
      assert.equal(detailed.json().code, 'validation_failed');
      assert.ok(detailed.json().data.n && detailed.json().data.bogus, detailed.body);
    });

    it('modifiers on an id are refused, and rel+ checks that the added records exist', async () => {
      const id = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', headers: { authorization: t.superuserToken }, payload: { 'id+': 'chosen000000001', title: 'x' } });
      assert.equal(id.statusCode, 400, id.body);
      assert.equal(id.json().data['id+'].code, 'validation_invalid_modifier');
      await createCollection(t, {
        name: 'links', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [{ name: 'to', type: 'relation', collectionId: 'notes', maxSelect: 5 }],
      });
      const link = await createRecord(t, 'links', { to: ['locked000000001'] });
      const dangling = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/links/records/${String(link.id)}`, payload: { 'to+': 'nosuchrecord001' } });
      assert.equal(dangling.statusCode, 400, dangling.body);
      assert.equal(dangling.json().data.to.code, 'validation_missing_rel_records');
    });
  });
}
