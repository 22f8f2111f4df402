/**
 * Regression (defence in depth): a record of the auth collection `members` with the same id as a
 * `users` record satisfied `owner = @request.auth.id` rules of users' data. Where an id of auth
 * collection T (a relation to T, or T's own `id`) is compared with `@request.auth.id`, the rule
 * language now also requires the caller to be a record of T. Any other caller (another collection,
 * anonymous) makes the comparison false for every operator, `!=` included (fail closed).
 */
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, signUp, type SignedIn, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';
import { filterScenario, type FilterCase } from '../support/filter-scenarios.ts';

const OWNED = 'owner = @request.auth.id';

for (const dialect of dialects()) {
  describe(`@request.auth.id compared with an auth collection's ids (${dialect})`, () => {
    let t: TestApp;
    let alice: SignedIn;
    let bob: SignedIn;
    let twin: SignedIn; // a members record with alice's id
    let aliceNote = '';
    let sharedId = '';
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', listRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id', fields: [] });
      await createCollection(t, { name: 'members', type: 'auth', createRule: '', listRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id', fields: [] });
      const users = { type: 'relation', collectionId: 'users' };
      await createCollection(t, {
        name: 'notes', listRule: OWNED, viewRule: OWNED, createRule: OWNED, updateRule: OWNED, deleteRule: OWNED,
        fields: [{ name: 'text', type: 'text' }, { name: 'owner', ...users, maxSelect: 1 }],
      });
      await createCollection(t, { name: 'posts', listRule: 'author != @request.auth.id', viewRule: '', fields: [{ name: 'author', ...users, maxSelect: 1 }] });
      await createCollection(t, { name: 'shared', listRule: 'editors ?= @request.auth.id', viewRule: 'editors.id ?= @request.auth.id', fields: [{ name: 'editors', ...users, maxSelect: 5 }] });
      await createCollection(t, { name: 'feeds', listRule: '@collection.notes.owner ?= @request.auth.id', viewRule: '', fields: [{ name: 'name', type: 'text' }] });
      await createCollection(t, { name: 'docs', listRule: '', viewRule: '', fields: [{ name: 'owner', ...users, maxSelect: 1 }] });
      await createCollection(t, { name: 'memberNotes', listRule: OWNED, viewRule: OWNED, fields: [{ name: 'owner', type: 'relation', collectionId: 'members', maxSelect: 1 }] });
      alice = await signUp(t, 'users', 'alice@example.com');
      bob = await signUp(t, 'users', 'bob@example.com');
      // The id clash is made in the database: the API keeps auth ids apart (another layer of this defence).
      const m = await createRecord(t, 'members', { email: 'twin@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1' }, null);
      await t.app.db.run(`UPDATE ${t.app.db.dialect.quoteIdent('members')} SET id = ? WHERE id = ?`, [alice.id, String(m.id)]);
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/members/auth-with-password', payload: { identity: 'twin@example.com', password: 'correct horse 1' } });
      assert.equal(res.statusCode, 200, res.body);
      twin = { id: (res.json() as { record: { id: string } }).record.id, token: (res.json() as { token: string }).token, email: 'twin@example.com' };
      assert.equal(twin.id, alice.id);
      aliceNote = String((await createRecord(t, 'notes', { text: 'alice only', owner: alice.id })).id);
      await createRecord(t, 'posts', { author: alice.id });
      await createRecord(t, 'posts', { author: bob.id });
      sharedId = String((await createRecord(t, 'shared', { editors: [alice.id, bob.id] })).id);
      await createRecord(t, 'feeds', { name: 'f' });
      await createRecord(t, 'docs', { owner: alice.id });
      await createRecord(t, 'memberNotes', { owner: alice.id });
    });
    after(async () => t.dispose());

    const A = () => alice.token;
    const B = () => bob.token;
    const T = () => twin.token;
    const cases: FilterCase[] = [
      { name: 'the owner lists her note', collection: 'notes', filter: 'text != ""', as: A, total: 1 },
      { name: 'a record of another auth collection with her id does not', collection: 'notes', filter: 'text != ""', as: T, total: 0 },
      // `!=`: PocketBase's answer for callers of the collection, false for anyone else
      { name: '!= for a caller of the collection', collection: 'posts', filter: 'id != ""', as: A, total: 1 },
      { name: '!= for another caller of the collection', collection: 'posts', filter: 'id != ""', as: B, total: 1 },
      { name: '!= is false for a caller of another collection', collection: 'posts', filter: 'id != ""', as: T, total: 0 },
      { name: '!= is false for anonymous callers', collection: 'posts', filter: 'id != ""', total: 0 },
      { name: 'any-of on a multi relation', collection: 'shared', filter: 'id != ""', as: A, total: 1 },
      { name: 'any-of on a multi relation, other collection', collection: 'shared', filter: 'id != ""', as: T, total: 0 },
      { name: '@collection in a rule', collection: 'feeds', filter: 'name = "f"', as: A, total: 1 },
      { name: '@collection in a rule, other collection', collection: 'feeds', filter: 'name = "f"', as: T, total: 0 },
      { name: 'a client filter on a relation', collection: 'docs', filter: OWNED, as: A, total: 1 },
      { name: 'a client filter on a relation, other collection', collection: 'docs', filter: OWNED, as: T, total: 0 },
      { name: 'a client filter with the operands swapped', collection: 'docs', filter: '@request.auth.id = owner', as: T, total: 0 },
      { name: 'a client filter through .id', collection: 'docs', filter: 'owner.id = @request.auth.id', as: T, total: 0 },
      { name: 'a client filter smuggling through OR', collection: 'docs', filter: 'owner = @request.auth.id || owner = "nobody"', as: T, total: 0 },
      { name: 'an auth collection\'s own id', collection: 'users', filter: 'id = @request.auth.id', as: T, total: 0 },
      { name: 'the members collection works for members', collection: 'memberNotes', filter: 'id != ""', as: T, total: 1 },
      { name: 'and not for the users record with the same id', collection: 'memberNotes', filter: 'id != ""', as: A, total: 0 },
      { name: 'collectionName is what it says', collection: 'docs', filter: '@request.auth.collectionName = "members"', as: T, total: 1 },
    ];
    runScenarios(() => t, [
      ...cases.map(filterScenario),
      { name: 'view of her note by the other collection is a 404', method: 'GET', url: () => `/api/collections/notes/records/${aliceNote}`, auth: () => twin.token, expectedStatus: 404 },
      { name: 'view of her note by her', method: 'GET', url: () => `/api/collections/notes/records/${aliceNote}`, auth: () => alice.token, expectedStatus: 200 },
      { name: 'view of her user record by the other collection is a 404', method: 'GET', url: () => `/api/collections/users/records/${alice.id}`, auth: () => twin.token, expectedStatus: 404 },
      { name: 'a view rule through .id, other collection', method: 'GET', url: () => `/api/collections/shared/records/${sharedId}`, auth: () => twin.token, expectedStatus: 404 },
      { name: 'a view rule through .id', method: 'GET', url: () => `/api/collections/shared/records/${sharedId}`, auth: () => bob.token, expectedStatus: 200 },
      {
        name: 'update by the other collection is a 404', method: 'PATCH', url: () => `/api/collections/notes/records/${aliceNote}`, auth: () => twin.token, body: { text: 'taken over' },
        expectedStatus: 404, expectedEvents: {},
      },
      { name: 'delete by the other collection is a 404', method: 'DELETE', url: () => `/api/collections/notes/records/${aliceNote}`, auth: () => twin.token, expectedStatus: 404, expectedEvents: {} },
      {
        name: 'create for her by the other collection is denied', method: 'POST', url: '/api/collections/notes/records', auth: () => twin.token, body: () => ({ text: 'planted', owner: alice.id }),
        expectedStatus: 400, expectedCode: 'record_create_denied',
      },
      {
        name: 'her note is untouched', method: 'GET', url: () => `/api/collections/notes/records/${aliceNote}`, auth: () => alice.token,
        expectedStatus: 200, expectedContent: ['alice only'],
      },
    ]);
  });
}
