import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

for (const dialect of dialects()) {
  describe(`collections API (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'notes', listRule: '', viewRule: '', fields: [{ name: 'text', type: 'text' }] });
    });
    after(async () => t.dispose());

    runScenarios(() => t, [
      { name: 'anonymous callers cannot list collections', method: 'GET', url: '/api/collections', expectedStatus: 401, expectedCode: 'unauthorized' },
      {
        name: 'superusers list collections (PocketBase list shape)', method: 'GET', url: '/api/collections', auth: 'superuser',
        expectedStatus: 200, expectedContent: ['"items":[', '"name":"_superusers"', '"name":"notes"', '"name":"_roles"', '"totalItems":3'],
      },
      {
        name: 'Authorization also takes "Bearer <token>"', method: 'GET', url: '/api/collections', auth: (t) => `Bearer ${t.superuserToken}`,
        expectedStatus: 200, expectedContent: ['"name":"notes"'],
      },
      {
        name: 'view a collection by name', method: 'GET', url: '/api/collections/notes', auth: 'superuser',
        expectedStatus: 200, expectedContent: ['"name":"notes"', '"fields":[', '"name":"id"'],
      },
      { name: 'unknown collection', method: 'GET', url: '/api/collections/nope', auth: 'superuser', expectedStatus: 404, expectedCode: 'collection_not_found' },
      {
        name: 'invalid names and field types are reported per member', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'bad name; drop table x', fields: [{ name: 'a b', type: 'text' }, { name: 'ok', type: 'nope' }] },
        expectedStatus: 400, expectedCode: 'collection_invalid', expectedContent: ['"name"', '"fields.0.name"', '"fields.1.type"'],
      },
      {
        name: 'duplicate field names (case-insensitive) are refused', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'dups', fields: [{ name: 'Title', type: 'text' }, { name: 'title', type: 'text' }] },
        expectedStatus: 400, expectedCode: 'collection_invalid', expectedContent: ['validation_duplicate_name'],
      },
      {
        name: 'a rule naming an unknown field is refused', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'ruled', listRule: 'nope = 1', fields: [{ name: 'a', type: 'text' }] },
        expectedStatus: 400, expectedCode: 'collection_invalid', expectedContent: ['"listRule"'],
      },
      {
        name: 'a relation to an unknown collection is refused', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'rel', fields: [{ name: 'r', type: 'relation', collectionId: 'nowhere' }] },
        expectedStatus: 400, expectedCode: 'collection_invalid', expectedContent: ['validation_unknown_collection'],
      },
      {
        name: 'reserved names are refused', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: '_secret', fields: [{ name: 'expand', type: 'text' }] }, expectedStatus: 400, expectedCode: 'collection_invalid',
      },
      {
        name: 'PocketBase index SQL is accepted and stored portably', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'indexed', fields: [{ name: 'a', type: 'text' }, { name: 'b', type: 'number' }], indexes: ['CREATE UNIQUE INDEX idx_ab ON indexed (a, b DESC)'] },
        expectedStatus: 200, expectedContent: ['"indexes":[{"name":"idx_ab","columns":["a","-b"],"unique":true}]'],
      },
      {
        name: 'raw index SQL beyond the portable form is refused', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'indexed2', fields: [{ name: 'a', type: 'text' }], indexes: ['CREATE INDEX x ON indexed2 (lower(a))'] },
        expectedStatus: 400, expectedCode: 'collection_invalid',
      },
      { name: 'system collections cannot be deleted', method: 'DELETE', url: '/api/collections/_superusers', auth: 'superuser', expectedStatus: 400, expectedCode: 'collection_invalid' },
    ]);

    it('changes a schema in place: add, rename, remove, option and single→multi changes keep the data', async () => {
      await createCollection(t, {
        name: 'items', listRule: '', viewRule: '',
        fields: [
          { name: 'title', type: 'text' }, { name: 'old', type: 'text' }, { name: 'gone', type: 'number' },
          { name: 'kind', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
        ],
      });
      await createRecord(t, 'items', { id: 'item00000000001', title: 'one', old: 'kept', gone: 3, kind: 'b' });
      const current = (await t.app.http.inject({ method: 'GET', url: '/api/collections/items', headers: { authorization: t.superuserToken } })).json() as { fields: { id: string; name: string }[] };
      const idOf = (n: string) => current.fields.find((f) => f.name === n)!.id;
      const res = await t.app.http.inject({
        method: 'PATCH', url: '/api/collections/items', headers: { authorization: t.superuserToken },
        payload: {
          name: 'things',
          fields: [
            { id: idOf('id'), name: 'id', type: 'text' },
            { id: idOf('title'), name: 'title', type: 'text', required: true, max: 50 },
            { id: idOf('old'), name: 'renamed', type: 'text' },
            { id: idOf('kind'), name: 'kind', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
            { name: 'added', type: 'bool' },
          ],
          indexes: [{ name: 'by_title', columns: ['title'], unique: true }],
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const rec = (await t.app.http.inject({ method: 'GET', url: '/api/collections/things/records/item00000000001' })).json() as Record<string, unknown>;
      assert.equal(rec.title, 'one');
      assert.equal(rec.renamed, 'kept');
      assert.deepEqual(rec.kind, ['b']);
      assert.equal(rec.added, false);
      assert.ok(!('gone' in rec) && !('old' in rec));
      const dup = await t.app.http.inject({ method: 'POST', url: '/api/collections/things/records', headers: { authorization: t.superuserToken }, payload: { title: 'one' } });
      assert.equal(dup.statusCode, 400, dup.body);
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/collections/items/records' })).statusCode, 404);
    });

    it('swaps two field names in one change', async () => {
      await createCollection(t, { name: 'swap', listRule: '', viewRule: '', fields: [{ name: 'a', type: 'text' }, { name: 'b', type: 'text' }] });
      await createRecord(t, 'swap', { id: 'swap00000000001', a: 'A', b: 'B' });
      const c = (await t.app.http.inject({ method: 'GET', url: '/api/collections/swap', headers: { authorization: t.superuserToken } })).json() as { fields: { id: string; name: string; type: string }[] };
      const fields = c.fields.map((f) => (f.name === 'a' ? { ...f, name: 'b' } : f.name === 'b' ? { ...f, name: 'a' } : f));
      const res = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/swap', headers: { authorization: t.superuserToken }, payload: { fields } });
      assert.equal(res.statusCode, 200, res.body);
      const rec = (await t.app.http.inject({ method: 'GET', url: '/api/collections/swap/records/swap00000000001' })).json() as Record<string, unknown>;
      assert.equal(rec.a, 'B');
      assert.equal(rec.b, 'A');
    });

    it('a failed schema change leaves schema and data untouched', async () => {
      await createCollection(t, { name: 'uniq', listRule: '', viewRule: '', fields: [{ name: 'email', type: 'text' }] });
      await createRecord(t, 'uniq', { email: 'same' });
      await createRecord(t, 'uniq', { email: 'same' });
      const res = await t.app.http.inject({
        method: 'PATCH', url: '/api/collections/uniq', headers: { authorization: t.superuserToken },
        payload: { fields: [{ name: 'email', type: 'text' }, { name: 'extra', type: 'text' }], indexes: [{ name: 'u', columns: ['email'], unique: true }] },
      });
      assert.equal(res.statusCode, 400, res.body);
      const c = (await t.app.http.inject({ method: 'GET', url: '/api/collections/uniq', headers: { authorization: t.superuserToken } })).json() as { fields: { name: string }[]; indexes: unknown[] };
      assert.deepEqual(c.fields.map((f) => f.name), ['id', 'email']);
      assert.deepEqual(c.indexes, []);
      const list = (await t.app.http.inject({ method: 'GET', url: '/api/collections/uniq/records' })).json() as { totalItems: number; items: Record<string, unknown>[] };
      assert.equal(list.totalItems, 2);
      assert.ok(!('extra' in list.items[0]));
    });

    it('refuses to delete a collection that relations point at, then deletes it once they are gone', async () => {
      await createCollection(t, { name: 'parents', fields: [{ name: 'n', type: 'text' }] });
      await createCollection(t, { name: 'children', fields: [{ name: 'p', type: 'relation', collectionId: 'parents' }] });
      const refused = await t.app.http.inject({ method: 'DELETE', url: '/api/collections/parents', headers: { authorization: t.superuserToken } });
      assert.equal(refused.statusCode, 400);
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: '/api/collections/children', headers: { authorization: t.superuserToken } })).statusCode, 204);
      assert.equal((await t.app.http.inject({ method: 'DELETE', url: '/api/collections/parents', headers: { authorization: t.superuserToken } })).statusCode, 204);
    });

    it('records every schema change in the change log', async () => {
      const res = await t.app.http.inject({ method: 'GET', url: '/api/admin/changes?after=0&limit=1000', headers: { authorization: t.superuserToken } });
      const body = res.json() as { items: { collection: string; op: string }[] };
      assert.ok(body.items.some((e) => e.collection === '_collections' && e.op === 'update'));
      assert.ok(body.items.some((e) => e.collection === '_collections' && e.op === 'delete'));
    });
  });
}
