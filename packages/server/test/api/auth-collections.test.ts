/**
 * User auth collections and row rules: sign-up, sign-in, `@request.auth` in rules, and the OWASP API1
 * (broken object-level authorization) and API3/API6 (mass assignment) cases that follow from them.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

interface User { id: string; token: string; email: string }

async function signUp(t: TestApp, email: string, extra: Record<string, unknown> = {}): Promise<User> {
  const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email, password: 'correct horse 1', passwordConfirm: 'correct horse 1', ...extra } });
  assert.equal(res.statusCode, 200, res.body);
  const signIn = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: email, password: 'correct horse 1' } });
  assert.equal(signIn.statusCode, 200, signIn.body);
  const body = signIn.json() as { token: string; record: { id: string } };
  return { id: body.record.id, token: body.token, email };
}

for (const dialect of dialects()) {
  describe(`auth collections and row rules (${dialect})`, () => {
    let t: TestApp;
    let alice: User;
    let bob: User;
    let aliceNote = '';
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, {
        name: 'users', type: 'auth', listRule: 'id = @request.auth.id', viewRule: '@request.auth.id != ""', createRule: '',
        updateRule: 'id = @request.auth.id', deleteRule: 'id = @request.auth.id', authRule: 'banned = false',
        fields: [{ name: 'name', type: 'text' }, { name: 'banned', type: 'bool' }],
      });
      await createCollection(t, {
        name: 'notes', listRule: 'owner = @request.auth.id', viewRule: 'owner = @request.auth.id', createRule: 'owner = @request.auth.id',
        updateRule: 'owner = @request.auth.id && @request.body.owner:isset = false', deleteRule: 'owner = @request.auth.id',
        fields: [{ name: 'text', type: 'text' }, { name: 'owner', type: 'relation', collectionId: 'users', required: true }],
      });
      alice = await signUp(t, 'alice@example.com', { name: 'Alice' });
      bob = await signUp(t, 'bob@example.com', { name: 'Bob', emailVisibility: true });
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', headers: { authorization: alice.token }, payload: { text: 'alice secret note', owner: alice.id } });
      assert.equal(res.statusCode, 200, res.body);
      aliceNote = (res.json() as { id: string }).id;
    });
    after(async () => t.dispose());

    const as = (u: () => User) => () => u().token;
    runScenarios(() => t, [
      {
        name: 'the auth collection has the system auth fields', method: 'GET', url: '/api/collections/users', auth: 'superuser',
        expectedStatus: 200, expectedContent: ['"type":"auth"', '"name":"email"', '"name":"password"', '"name":"verified"', '"authRule":"banned = false"'],
      },
      {
        name: 'sign-in answers a token and the record, never the password hash or token key', method: 'POST', url: '/api/collections/users/auth-with-password',
        body: { identity: 'alice@example.com', password: 'correct horse 1' }, expectedStatus: 200,
        expectedContent: ['"token":"', '"email":"alice@example.com"'], notExpectedContent: ['argon2', 'tokenKey', '"password"'],
      },
      {
        name: 'a wrong password and an unknown identity fail the same way', method: 'POST', url: '/api/collections/users/auth-with-password',
        body: { identity: 'nobody@example.com', password: 'correct horse 1' }, expectedStatus: 400, expectedCode: 'auth_failed',
      },
      {
        name: 'wrong password', method: 'POST', url: '/api/collections/users/auth-with-password',
        body: { identity: 'alice@example.com', password: 'wrong horse 1' }, expectedStatus: 400, expectedCode: 'auth_failed',
      },
      {
        name: 'sign-up needs the password twice', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'carol@example.com', password: 'correct horse 1' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"passwordConfirm"'],
      },
      {
        name: 'common passwords are refused (NIST SP 800-63B)', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'carol@example.com', password: 'iloveyou1', passwordConfirm: 'iloveyou1' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_password_weak'],
      },
      {
        name: 'the email is not a password', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'carol.long@example.com', password: 'carol.long@example.com', passwordConfirm: 'carol.long@example.com' }, expectedStatus: 400, expectedContent: ['validation_password_weak'],
      },
      {
        name: 'long passphrases are fine, and no composition rules apply', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'pass@example.com', password: 'all lower case words are a fine passphrase even when they run long', passwordConfirm: 'all lower case words are a fine passphrase even when they run long' }, expectedStatus: 200,
      },
      {
        name: 'mass assignment: sign-up cannot set verified', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'mallory@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1', verified: true },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"verified"'],
      },
      {
        name: 'mass assignment: sign-up cannot set the token key', method: 'POST', url: '/api/collections/users/records',
        body: { email: 'mallory@example.com', password: 'correct horse 1', passwordConfirm: 'correct horse 1', tokenKey: 'x'.repeat(40) },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"tokenKey"'],
      },
      { name: 'BOLA: another user cannot view a note by id', method: 'GET', url: '/api/collections/notes/records/__NOTE__', auth: as(() => bob), expectedStatus: 404, expectedCode: 'record_not_found' },
      { name: 'the owner can view it', method: 'GET', url: '/api/collections/notes/records/__NOTE__', auth: as(() => alice), expectedStatus: 200, expectedContent: ['alice secret note'] },
      { name: 'BOLA: another user cannot update it', method: 'PATCH', url: '/api/collections/notes/records/__NOTE__', auth: as(() => bob), body: { text: 'pwned' }, expectedStatus: 404, expectedEvents: {} },
      { name: 'BOLA: another user cannot delete it', method: 'DELETE', url: '/api/collections/notes/records/__NOTE__', auth: as(() => bob), expectedStatus: 404, expectedEvents: {} },
      { name: 'BOLA: anonymous callers see nothing', method: 'GET', url: '/api/collections/notes/records', expectedStatus: 200, expectedContent: ['"totalItems":0'] },
      {
        name: 'BOLA: a list filter cannot widen the list rule', method: 'GET', url: `/api/collections/notes/records?filter=${encodeURIComponent('owner != "" || text ~ "secret"')}`,
        auth: as(() => bob), expectedStatus: 200, expectedContent: ['"totalItems":0'], notExpectedContent: ['alice secret note'],
      },
      {
        name: 'BOLA: a note cannot be created for someone else', method: 'POST', url: '/api/collections/notes/records', auth: as(() => bob),
        body: { text: 'planted', owner: '__ALICE__' }, expectedStatus: 400, expectedCode: 'record_create_denied',
        // The create rule is checked on the inserted row inside the transaction: the hook ran, the row is rolled back.
        after: async (t: TestApp) => {
          const all = await t.app.http.inject({ method: 'GET', url: `/api/collections/notes/records?filter=${encodeURIComponent('text = "planted"')}`, headers: { authorization: t.superuserToken } });
          assert.equal((all.json() as { totalItems: number }).totalItems, 0);
        },
      },
      {
        name: 'a rule can forbid moving a row out of reach: the owner cannot reassign a note', method: 'PATCH', url: '/api/collections/notes/records/__NOTE__',
        auth: as(() => alice), body: { owner: '__BOB__' }, expectedStatus: 404, expectedEvents: {},
      },
      { name: 'users list only themselves', method: 'GET', url: '/api/collections/users/records', auth: as(() => bob), expectedStatus: 200, expectedContent: ['"totalItems":1', 'bob@example.com'], notExpectedContent: ['alice@example.com'] },
      {
        name: 'another user\'s email stays private unless they opt in', method: 'GET', url: '/api/collections/users/records/__ALICE__', auth: as(() => bob),
        expectedStatus: 200, expectedContent: ['"name":"Alice"'], notExpectedContent: ['alice@example.com'],
      },
      { name: 'an opted-in email is visible', method: 'GET', url: '/api/collections/users/records/__BOB__', auth: as(() => alice), expectedStatus: 200, expectedContent: ['bob@example.com'] },
      {
        name: 'filters cannot probe private emails', method: 'GET', url: `/api/collections/users/records?filter=${encodeURIComponent('email ~ "alice"')}`,
        auth: as(() => alice), expectedStatus: 400, expectedCode: 'filter_invalid',
      },
      {
        name: 'a user cannot change their own email or verified flag', method: 'PATCH', url: '/api/collections/users/records/__ALICE__', auth: as(() => alice),
        body: { email: 'new@example.com', verified: true }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"email"', '"verified"'],
      },
      {
        name: 'a password change needs the old password', method: 'PATCH', url: '/api/collections/users/records/__ALICE__', auth: as(() => alice),
        body: { password: 'another horse 2', passwordConfirm: 'another horse 2' }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"oldPassword"'],
      },
      { name: 'JWT alg none is refused', method: 'GET', url: '/api/collections/notes/records', auth: () => `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"id":"x","collectionId":"y","type":"auth"}').toString('base64url')}.`, expectedStatus: 401, expectedCode: 'token_invalid' },
    ].map((s) => {
      // Ids exist only after setup: placeholders are filled in at request time.
      const fill = (text: string) => text.replaceAll('__NOTE__', aliceNote).replaceAll('__ALICE__', alice.id).replaceAll('__BOB__', bob.id);
      const { url, body } = s as { url: string; body?: unknown };
      return { ...s, url: () => fill(url), body: body === undefined ? undefined : () => JSON.parse(fill(JSON.stringify(body))) as unknown };
    }) as Parameters<typeof runScenarios>[1]);

    it('changing the password with the old one works and ends older tokens', async () => {
      const carol = await signUp(t, 'carol@example.com');
      const res = await t.app.http.inject({
        method: 'PATCH', url: `/api/collections/users/records/${carol.id}`, headers: { authorization: carol.token },
        payload: { oldPassword: 'correct horse 1', password: 'another horse 2', passwordConfirm: 'another horse 2' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const old = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/records', headers: { authorization: carol.token } });
      assert.equal(old.statusCode, 401);
      const again = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'carol@example.com', password: 'another horse 2' } });
      assert.equal(again.statusCode, 200);
    });

    it('the auth rule can bar a record from signing in', async () => {
      const dave = await signUp(t, 'dave@example.com');
      const ban = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${dave.id}`, headers: { authorization: t.superuserToken }, payload: { banned: true } });
      assert.equal(ban.statusCode, 200, ban.body);
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'dave@example.com', password: 'correct horse 1' } });
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { code: string }).code, 'auth_failed');
    });

    it('superusers may set verified and email', async () => {
      const erin = await signUp(t, 'erin@example.com');
      const res = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${erin.id}`, headers: { authorization: t.superuserToken }, payload: { verified: true, email: 'erin2@example.com' } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as { verified: boolean }).verified, true);
    });
  });
}
