/**
 * Regression (security review item 4): auth-record ids collided across auth collections. A sign-up in
 * `members` with a client-chosen id equal to a `users` record's id got a token whose
 * `@request.auth.id` satisfied that user's rules (read their records, secret field included, and
 * updated their user record). Ids are now unique across every auth collection, enforced by the
 * database (`_auth_ids`), and public sign-ups cannot choose ids at all.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { createApp, loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';
const newId = () => Array.from({ length: 15 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)]).join('');

for (const dialect of dialects()) {
  describe(`auth record ids are unique across auth collections (${dialect})`, () => {
    let t: TestApp;
    const inject = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', url: string, payload?: unknown, token?: string) =>
      t.app.http.inject({ method, url, payload: payload as object, headers: token ? { authorization: token } : {} });

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signUpPerIp: 0, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 } });
      for (const name of ['users', 'members']) await createCollection(t, { name, type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [] });
      await createCollection(t, {
        name: 'notes', type: 'base', listRule: 'owner = @request.auth.id', viewRule: 'owner = @request.auth.id',
        fields: [{ name: 'owner', type: 'relation', collectionId: 'users', maxSelect: 1 }, { name: 'secret', type: 'secret' }],
      });
    });
    after(async () => t.dispose());

    it('a public sign-up with an id is refused (400 auth_id_not_allowed), by the records route and in a batch', async () => {
      const victim = await createRecord(t, 'users', { email: 'victim@example.com', password, passwordConfirm: password });
      const res = await inject('POST', '/api/collections/members/records', { id: victim.id, email: 'twin@example.com', password, passwordConfirm: password });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'auth_id_not_allowed');
      const fresh = await inject('POST', '/api/collections/members/records', { id: newId(), email: 'twin2@example.com', password, passwordConfirm: password });
      assert.equal(fresh.json().code, 'auth_id_not_allowed', 'any client-chosen id, not only a taken one');
      const batch = await inject('POST', '/api/batch', { requests: [{ method: 'POST', url: '/api/collections/members/records', body: { id: victim.id, email: 'twin3@example.com', password, passwordConfirm: password } }] });
      assert.equal(batch.statusCode, 400, batch.body);
      assert.equal(batch.json().data.requests[0].response.code, 'auth_id_not_allowed');
      assert.equal(await t.app.records.findRawBy('members', 'id', String(victim.id)), undefined);
    });

    it('a signed-in user cannot choose an id either; a sign-up without an id works', async () => {
      await createRecord(t, 'members', { email: 'm1@example.com', password, passwordConfirm: password, verified: true });
      const token = (await inject('POST', '/api/collections/members/auth-with-password', { identity: 'm1@example.com', password })).json().token as string;
      const res = await inject('POST', '/api/collections/users/records', { id: newId(), email: 'by-member@example.com', password, passwordConfirm: password }, token);
      assert.equal(res.json().code, 'auth_id_not_allowed');
      const ok = await inject('POST', '/api/collections/members/records', { email: 'plain@example.com', password, passwordConfirm: password });
      assert.equal(ok.statusCode, 200, ok.body);
    });

    it('superusers may choose ids, but not one another auth collection holds (_superusers included)', async () => {
      const victim = await createRecord(t, 'users', { email: 'victim2@example.com', password, passwordConfirm: password });
      const twin = await inject('POST', '/api/collections/members/records', { id: victim.id, email: 'twin4@example.com', password, passwordConfirm: password }, t.superuserToken);
      assert.equal(twin.statusCode, 400, twin.body);
      assert.equal(twin.json().code, 'validation_failed');
      assert.equal(twin.json().data.id.code, 'validation_not_unique');
      const su = await t.app.records.findRawBy('_superusers', 'email', 'root@example.com');
      const suTwin = await inject('POST', '/api/collections/users/records', { id: su!.id, email: 'su-twin@example.com', password, passwordConfirm: password }, t.superuserToken);
      assert.equal(suTwin.json().data.id.code, 'validation_not_unique', 'a users record cannot take a superuser id');
      const chosen = newId();
      const ok = await inject('POST', '/api/collections/members/records', { id: chosen, email: 'chosen@example.com', password, passwordConfirm: password }, t.superuserToken);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().id, chosen);
      // In a superuser's batch too.
      const batch = await inject('POST', '/api/batch', { requests: [{ method: 'POST', url: '/api/collections/users/records', body: { id: chosen, email: 'batch-twin@example.com', password, passwordConfirm: password } }] }, t.superuserToken);
      assert.equal(batch.statusCode, 400, batch.body);
    });

    it('the victim\'s records and account stay out of reach of any other auth collection', async () => {
      const victim = await createRecord(t, 'users', { email: 'victim3@example.com', password, passwordConfirm: password, verified: true });
      const note = await createRecord(t, 'notes', { owner: victim.id, secret: 's3cret' });
      await createRecord(t, 'members', { email: 'attacker@example.com', password, passwordConfirm: password, verified: true });
      const token = (await inject('POST', '/api/collections/members/auth-with-password', { identity: 'attacker@example.com', password })).json().token as string;
      assert.equal((await inject('GET', `/api/collections/notes/records/${String(note.id)}`, undefined, token)).statusCode, 404);
      assert.equal((await inject('PATCH', `/api/collections/users/records/${String(victim.id)}`, { emailVisibility: true }, token)).statusCode, 404);
    });

    it('two concurrent creates with one id in two collections: exactly one wins', async () => {
      for (let round = 0; round < 3; round++) {
        const id = newId();
        const [a, b] = await Promise.all([
          inject('POST', '/api/collections/users/records', { id, email: `race-u${round}@example.com`, password, passwordConfirm: password }, t.superuserToken),
          inject('POST', '/api/collections/members/records', { id, email: `race-m${round}@example.com`, password, passwordConfirm: password }, t.superuserToken),
        ]);
        assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 400], `${a.body} / ${b.body}`);
        const loser = a.statusCode === 400 ? a : b;
        assert.equal(loser.json().code, 'validation_failed');
        const held = await t.app.db.all('SELECT collection_id FROM _auth_ids WHERE id = ?', [id]);
        assert.equal(held.length, 1);
      }
    });

    it('deleting a record releases its id; dropping an auth collection releases all of its ids', async () => {
      const id = newId();
      await createRecord(t, 'users', { id, email: 'release@example.com', password, passwordConfirm: password });
      assert.equal((await inject('DELETE', `/api/collections/users/records/${id}`, undefined, t.superuserToken)).statusCode, 204);
      await createCollection(t, { name: 'guests', type: 'auth', fields: [] });
      await createRecord(t, 'guests', { id, email: 'guest@example.com', password, passwordConfirm: password });
      assert.equal((await inject('DELETE', '/api/collections/guests', undefined, t.superuserToken)).statusCode, 204);
      await createRecord(t, 'members', { id, email: 'after-drop@example.com', password, passwordConfirm: password });
    });
  });

  describe(`auth record ids at start (${dialect})`, () => {
    it('existing records are claimed at start; a collision refuses to start, naming both records', async () => {
      const t = await startTestApp(dialect);
      try {
        await createCollection(t, { name: 'users', type: 'auth', fields: [] });
        await createCollection(t, { name: 'members', type: 'auth', fields: [] });
        const u = await createRecord(t, 'users', { email: 'u@example.com', password, passwordConfirm: password });
        // A database from before `_auth_ids`: no claims at all.
        await t.app.db.run('DELETE FROM _auth_ids');
        const config = t.app.config;
        await t.app.close();
        const again = await createApp(config, { logger: pino({ level: 'silent' }) });
        const claims = await again.db.all<{ id: string }>('SELECT id FROM _auth_ids');
        assert.ok(claims.some((c) => c.id === u.id), 'the existing record was claimed');
        assert.equal(claims.length, 2, 'the user and the superuser');
        // A twin written around the records service (as an older version allowed).
        const row = await again.records.findRawBy('users', 'id', String(u.id));
        await again.db.run('INSERT INTO members (id, email, password, "tokenKey", verified, "emailVisibility") VALUES (?, ?, ?, ?, ?, ?)', [String(u.id), 'twin@example.com', String(row!.password), 'k'.repeat(50), false, false]);
        await again.db.run('DELETE FROM _auth_ids WHERE id = ?', [String(u.id)]);
        await again.close();
        await assert.rejects(createApp(config, { logger: pino({ level: 'silent' }) }), (e: Error) => e.message.includes(`members/${String(u.id)}`) && e.message.includes(`users/${String(u.id)}`));
      } finally {
        await t.dispose();
      }
    });
  });
}
