/**
 * Roles with permissions (`_roles`, the `roles` field of user records, `@request.auth.roles` and
 * `@request.auth.permissions` in rules), API keys scoped to roles, and the update rule checked on the
 * merged record (a PATCH cannot move a row out of the caller's reach).
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

interface User { id: string; token: string }

/** The secret part of an API key `bsk_<15-char id>_<secret>` (the secret may itself contain "_"). */
function secretOf(key: string): string {
  assert.match(key, /^bsk_[a-z0-9]{15}_[A-Za-z0-9_-]{43}$/);
  return key.slice(20);
}

async function signUp(t: TestApp, email: string): Promise<User> {
  const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email, password: 'correct horse 1', passwordConfirm: 'correct horse 1' } });
  assert.equal(res.statusCode, 200, res.body);
  const signIn = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: email, password: 'correct horse 1' } });
  assert.equal(signIn.statusCode, 200, signIn.body);
  const body = signIn.json() as { token: string; record: { id: string } };
  return { id: body.record.id, token: body.token };
}

for (const dialect of dialects()) {
  describe(`roles, permissions and API keys (${dialect})`, () => {
    let t: TestApp;
    let editorRole = '';
    let publisherRole = '';
    let alice: User; // editor
    let bob: User; // no roles
    let readerKey = '';
    let publisherKey = '';
    let draftId = '';
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [{ name: 'name', type: 'text' }] });
      await createCollection(t, {
        name: 'articles',
        listRule: 'published = true || @request.auth.roles ?= "editor" || @request.auth.roles ?= "reader"',
        viewRule: 'published = true || @request.auth.roles ?= "editor"',
        createRule: '@request.auth.roles ?= "editor"',
        updateRule: '@request.auth.permissions ?= "articles:publish" || (@request.auth.roles ?= "editor" && published = false)',
        deleteRule: null,
        fields: [{ name: 'title', type: 'text' }, { name: 'published', type: 'bool' }],
      });
      editorRole = String((await createRecord(t, '_roles', { name: 'editor', description: 'writes drafts', permissions: ['articles:write'] })).id);
      publisherRole = String((await createRecord(t, '_roles', { name: 'publisher', permissions: ['articles:publish'] })).id);
      await createRecord(t, '_roles', { name: 'reader', permissions: [] });
      alice = await signUp(t, 'alice@example.com');
      bob = await signUp(t, 'bob@example.com');
      const assign = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${alice.id}`, headers: { authorization: t.superuserToken }, payload: { roles: [editorRole] } });
      assert.equal(assign.statusCode, 200, assign.body);
      draftId = String((await createRecord(t, 'articles', { title: 'draft', published: false })).id);
      for (const [name, roles] of [['reader', ['reader']], ['publisher', ['publisher']]] as const) {
        const res = await t.app.http.inject({ method: 'POST', url: '/api/admin/api-keys', headers: { authorization: t.superuserToken }, payload: { name, roles } });
        assert.equal(res.statusCode, 201, res.body);
        if (name === 'reader') readerKey = (res.json() as { key: string }).key;
        else publisherKey = (res.json() as { key: string }).key;
      }
    });
    after(async () => t.dispose());

    it('a new auth collection has the system roles field, a relation to _roles', async () => {
      const c = t.app.registry.get('users');
      const roles = c.fields.find((f) => f.name === 'roles');
      assert.ok(roles && roles.system && roles.type === 'relation' && roles.collectionId === t.app.registry.get('_roles').id);
    });

    runScenarios(() => t, [
      // Roles in rules
      { name: 'a role in a rule admits its holder (list sees the draft)', method: 'GET', url: '/api/collections/articles/records', auth: () => alice.token, expectedStatus: 200, expectedContent: ['"title":"draft"'] },
      { name: 'without the role, the draft is filtered out', method: 'GET', url: '/api/collections/articles/records', auth: () => bob.token, expectedStatus: 200, notExpectedContent: ['"title":"draft"'] },
      { name: 'view by id as a user without the role: 404', method: 'GET', url: () => `/api/collections/articles/records/${draftId}`, auth: () => bob.token, expectedStatus: 404 },
      { name: 'create needs the editor role', method: 'POST', url: '/api/collections/articles/records', auth: () => bob.token, body: { title: 'x' }, expectedStatus: 400, expectedCode: 'record_create_denied' },
      { name: 'an editor creates', method: 'POST', url: '/api/collections/articles/records', auth: () => alice.token, body: { title: 'by alice' }, expectedStatus: 200 },
      // Update rule on the merged record
      {
        name: 'an editor may edit a draft but not publish it: the merged record fails the update rule, nothing is written',
        method: 'PATCH', url: () => `/api/collections/articles/records/${draftId}`, auth: () => alice.token, body: { title: 'changed', published: true },
        expectedStatus: 403, expectedCode: 'rule_denied', expectedEvents: { 'update:articles': 1 },
        after: async (tt) => {
          const row = await tt.app.records.findRawBy('articles', 'id', draftId);
          assert.equal(row?.title, 'draft');
          assert.ok(row?.published === false || row?.published === 0);
        },
      },
      { name: 'an editor edits a draft that stays a draft', method: 'PATCH', url: () => `/api/collections/articles/records/${draftId}`, auth: () => alice.token, body: { title: 'draft v2' }, expectedStatus: 200, expectedContent: ['"title":"draft v2"'] },
      // Mass assignment of roles
      { name: 'a user cannot give themselves a role (mass assignment)', method: 'PATCH', url: () => `/api/collections/users/records/${bob.id}`, auth: () => bob.token, body: () => ({ roles: [editorRole] }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'a user cannot add a role with the + modifier', method: 'PATCH', url: () => `/api/collections/users/records/${bob.id}`, auth: () => bob.token, body: () => ({ 'roles+': editorRole }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'a user cannot add a role with the +roles+ form (regression: key-based guard)', method: 'PATCH', url: () => `/api/collections/users/records/${bob.id}`, auth: () => bob.token, body: () => ({ '+roles+': [editorRole] }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'a user cannot sign up with +roles+', method: 'POST', url: '/api/collections/users/records', body: () => ({ email: 'eve@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1', '+roles+': [editorRole] }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'removing a role from oneself (roles-) is also an assignment', method: 'PATCH', url: () => `/api/collections/users/records/${alice.id}`, auth: () => alice.token, body: () => ({ 'roles-': editorRole }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'a user cannot sign up with a role', method: 'POST', url: '/api/collections/users/records', body: () => ({ email: 'mallory@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1', roles: [editorRole] }), expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'a new auth collection cannot bring its own kind of `roles` field (it would change meaning silently)', method: 'POST', url: '/api/collections', auth: 'superuser', body: { name: 'staff', type: 'auth', fields: [{ name: 'roles', type: 'select', values: ['admin'], maxSelect: 3 }] }, expectedStatus: 400, expectedContent: ['validation_reserved_name'] },
      { name: 'restating the system roles field (an export) is fine', method: 'POST', url: '/api/collections', auth: 'superuser', body: { name: 'crew', type: 'auth', fields: [{ name: 'roles', type: 'relation', collectionId: '_roles', maxSelect: 100 }] }, expectedStatus: 200, expectedContent: ['"name":"roles"'] },
      { name: 'users cannot read or write _roles', method: 'POST', url: '/api/collections/_roles/records', auth: () => alice.token, body: { name: 'admin' }, expectedStatus: 403 },
      { name: 'role permissions must be permission tokens', method: 'POST', url: '/api/collections/_roles/records', auth: 'superuser', body: { name: 'bad', permissions: ['ok', 'not ok; DROP'] }, expectedStatus: 400, expectedContent: ['validation_invalid_permissions'] },
      { name: 'role names are unique', method: 'POST', url: '/api/collections/_roles/records', auth: 'superuser', body: { name: 'editor' }, expectedStatus: 400 },
      // API keys
      { name: 'an API key with the reader role lists drafts', method: 'GET', url: '/api/collections/articles/records', auth: () => `Bearer ${readerKey}`, expectedStatus: 200, expectedContent: ['"title":"draft v2"'] },
      { name: 'the reader key cannot view the draft by id (its rule wants editors)', method: 'GET', url: () => `/api/collections/articles/records/${draftId}`, auth: () => readerKey, expectedStatus: 404 },
      { name: 'a permission in a rule: the publisher key publishes', method: 'PATCH', url: () => `/api/collections/articles/records/${draftId}`, auth: () => publisherKey, body: { published: true }, expectedStatus: 200, expectedContent: ['"published":true'] },
      { name: 'an API key is not a superuser: collections API is 403', method: 'GET', url: '/api/collections', auth: () => publisherKey, expectedStatus: 403, expectedCode: 'superuser_required' },
      { name: 'an API key cannot manage API keys', method: 'GET', url: '/api/admin/api-keys', auth: () => publisherKey, expectedStatus: 403 },
      { name: 'an API key has no sessions', method: 'GET', url: '/api/collections/users/auth-sessions', auth: () => publisherKey, expectedStatus: 403 },
      { name: 'a wrong secret for a real key id is 401', method: 'GET', url: '/api/collections/articles/records', auth: () => `${readerKey.slice(0, -4)}AAAA`, expectedStatus: 401, expectedCode: 'token_invalid' },
      { name: 'a malformed key is 401', method: 'GET', url: '/api/collections/articles/records', auth: () => 'bsk_nonsense', expectedStatus: 401, expectedCode: 'token_invalid' },
      { name: 'keys are listed without secrets', method: 'GET', url: '/api/admin/api-keys', auth: 'superuser', expectedStatus: 200, expectedContent: ['"name":"reader"', '"roles":["reader"]'], notExpectedContent: ['"hash"', '"key"'],
        after: (_t, res) => assert.ok(!res.body.includes(secretOf(readerKey)), 'no secret in the list') },
      { name: 'creating a key with an unknown role is a 400', method: 'POST', url: '/api/admin/api-keys', auth: 'superuser', body: { name: 'x', roles: ['nope'] }, expectedStatus: 400, expectedContent: ['validation_unknown_role'] },
      { name: 'creating a key that expires in the past is a 400', method: 'POST', url: '/api/admin/api-keys', auth: 'superuser', body: { name: 'x', expires: '2001-01-01' }, expectedStatus: 400, expectedContent: ['validation_invalid_date'] },
      { name: 'creating a key with unknown members is a 400', method: 'POST', url: '/api/admin/api-keys', auth: 'superuser', body: { name: 'x', superuser: true }, expectedStatus: 400, expectedContent: ['validation_unknown_field'] },
      { name: 'users cannot create API keys', method: 'POST', url: '/api/admin/api-keys', auth: () => alice.token, body: { name: 'x' }, expectedStatus: 403 },
    ]);

    it('a role granted after sign-in applies to the same token within seconds; removing it takes it away', async () => {
      const assign = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${bob.id}`, headers: { authorization: t.superuserToken }, payload: { roles: [editorRole, publisherRole] } });
      assert.equal(assign.statusCode, 200, assign.body);
      const view = await t.app.http.inject({ method: 'GET', url: `/api/collections/articles/records/${draftId}`, headers: { authorization: bob.token } });
      assert.equal(view.statusCode, 200, view.body);
      const revoke = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${bob.id}`, headers: { authorization: t.superuserToken }, payload: { roles: [] } });
      assert.equal(revoke.statusCode, 200);
      const list = await t.app.http.inject({ method: 'GET', url: '/api/collections/articles/records', headers: { authorization: bob.token } });
      assert.ok(!list.body.includes('"title":"by alice"'), list.body);
    });

    it('a revoked API key stops working and the use, creation and revocation are audited', async () => {
      const created = await t.app.http.inject({ method: 'POST', url: '/api/admin/api-keys', headers: { authorization: t.superuserToken }, payload: { name: 'temp', roles: ['reader'], expires: new Date(Date.now() + 86_400_000).toISOString() } });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.headers['cache-control'], 'no-store');
      const { id, key } = created.json() as { id: string; key: string };
      assert.match(key, /^bsk_[a-z0-9]{15}_[A-Za-z0-9_-]{43}$/);
      assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/collections/articles/records', headers: { authorization: key } })).statusCode, 200);
      const del = await t.app.http.inject({ method: 'DELETE', url: `/api/admin/api-keys/${id}`, headers: { authorization: t.superuserToken } });
      assert.equal(del.statusCode, 204);
      const after = await t.app.http.inject({ method: 'GET', url: '/api/collections/articles/records', headers: { authorization: key } });
      assert.equal(after.statusCode, 401);
      const stored = await t.app.db.all<{ hash: string }>('SELECT hash FROM _api_keys WHERE id = ?', [id]);
      assert.ok(!stored[0].hash.includes(secretOf(key)), 'only a hash is stored');
      const audit = await t.app.audit.list(0, 1000);
      for (const action of ['apikey.create', 'apikey.use', 'apikey.revoke']) {
        assert.ok(audit.some((e) => e.action === action && e.target === `apikey:${id}`), `audited ${action}`);
      }
      assert.ok(!JSON.stringify(audit).includes(secretOf(key)), 'the secret is not in the audit trail');
    });

    it('an expired API key is refused', async () => {
      const created = await t.app.http.inject({ method: 'POST', url: '/api/admin/api-keys', headers: { authorization: t.superuserToken }, payload: { name: 'short', roles: [] } });
      const { id, key } = created.json() as { id: string; key: string };
      await t.app.db.run('UPDATE _api_keys SET expires = ? WHERE id = ?', ['2001-01-01 00:00:00.000Z', id]);
      const res = await t.app.http.inject({ method: 'GET', url: '/api/collections/articles/records', headers: { authorization: key } });
      assert.equal(res.statusCode, 401);
    });
  });
}
