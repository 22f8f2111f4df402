/**
 * Regression (security review item 5): the Idempotency-Key scope was `kind:recordId`, without the
 * collection, so a record of another auth collection with the same id replayed the victim's stored
 * answer (decrypted secrets included). Now a stored answer is replayed only to the same principal
 * (kind, collection, id; anonymous callers by address), for the same collection and record.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`Idempotency-Key scope (${dialect})`, () => {
    let t: TestApp;
    let victimToken: string;
    let twinToken: string;
    let noteId: string;
    const send = (method: 'POST' | 'PATCH', url: string, payload: unknown, key: string, token?: string, ip = '10.9.0.1') =>
      t.app.http.inject({ method, url, payload: payload as object, remoteAddress: ip, headers: { 'idempotency-key': key, ...(token ? { authorization: token } : {}) } });
    const signIn = async (collection: string, identity: string) =>
      (await t.app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-with-password`, payload: { identity, password } })).json().token as string;

    before(async () => {
      t = await startTestApp(dialect, { rateLimits: { ...loadConfig({}, {}).rateLimits, signUpPerIp: 0, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 } });
      await createCollection(t, { name: 'users', type: 'auth', fields: [] });
      await createCollection(t, { name: 'members', type: 'auth', fields: [] });
      // Only the users record itself: the rule also checks the caller's collection.
      const own = 'owner = @request.auth.id && @request.auth.collectionName = "users"';
      await createCollection(t, {
        name: 'notes', type: 'base', createRule: own, viewRule: own, updateRule: own,
        fields: [{ name: 'owner', type: 'relation', collectionId: 'users', maxSelect: 1 }, { name: 'title', type: 'text' }, { name: 'secret', type: 'secret' }],
      });
      await createCollection(t, { name: 'posts', type: 'base', createRule: '', fields: [{ name: 'title', type: 'text' }] });
      await createCollection(t, { name: 'drafts', type: 'base', createRule: '', fields: [{ name: 'title', type: 'text' }] });
      const victim = await createRecord(t, 'users', { email: 'victim@example.com', password, passwordConfirm: password, verified: true });
      noteId = String((await createRecord(t, 'notes', { owner: victim.id, title: 'mine', secret: 'the-secret-value' })).id);
      // A twin with the victim's id in another auth collection, written around the records service
      // (ids are unique across auth collections now; this guards the key scope on its own).
      const row = await t.app.records.findRawBy('users', 'id', String(victim.id));
      await t.app.db.run('INSERT INTO members (id, email, password, "tokenKey", verified, "emailVisibility") VALUES (?, ?, ?, ?, ?, ?)', [String(victim.id), 'twin@example.com', String(row!.password), 't'.repeat(50), true, false]);
      victimToken = await signIn('users', 'victim@example.com');
      twinToken = await signIn('members', 'twin@example.com');
    });
    after(async () => t.dispose());

    it('a principal of another collection with the same id does not get the stored answer', async () => {
      const url = `/api/collections/notes/records/${noteId}`;
      const first = await send('PATCH', url, { title: 'edited' }, 'key-1', victimToken);
      assert.equal(first.statusCode, 200, first.body);
      assert.match(first.body, /the-secret-value/);
      const replay = await send('PATCH', url, { title: 'edited' }, 'key-1', victimToken);
      assert.equal(replay.headers['idempotent-replayed'], 'true', 'the same principal gets its answer again');
      const twin = await send('PATCH', url, { title: 'edited' }, 'key-1', twinToken);
      assert.equal(twin.headers['idempotent-replayed'], undefined);
      assert.equal(twin.statusCode, 404, twin.body);
      assert.doesNotMatch(twin.body, /the-secret-value/);
    });

    it('one key for two collections runs twice: never the other collection\'s answer', async () => {
      const a = await send('POST', '/api/collections/posts/records', { title: 'x' }, 'key-2', victimToken);
      const b = await send('POST', '/api/collections/drafts/records', { title: 'x' }, 'key-2', victimToken);
      assert.equal(a.statusCode, 200, a.body);
      assert.equal(b.statusCode, 200, b.body);
      assert.equal(b.headers['idempotent-replayed'], undefined);
      assert.equal(b.json().collectionName, 'drafts');
    });

    it('anonymous callers from different addresses do not share stored answers', async () => {
      const a = await send('POST', '/api/collections/posts/records', { title: 'anon' }, 'key-3', undefined, '10.9.0.1');
      const again = await send('POST', '/api/collections/posts/records', { title: 'anon' }, 'key-3', undefined, '10.9.0.1');
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const b = await send('POST', '/api/collections/posts/records', { title: 'anon' }, 'key-3', undefined, '10.9.0.2');
      assert.equal(b.statusCode, 200, b.body);
      assert.equal(b.headers['idempotent-replayed'], undefined);
      assert.notEqual(b.json().id, a.json().id);
    });

    it('a collection named by id or by name is one scope: the other spelling is a 422, never a second write', async () => {
      const posts = t.app.registry.get('posts');
      const a = await send('POST', '/api/collections/posts/records', { title: 'by-name' }, 'key-4', victimToken);
      const b = await send('POST', `/api/collections/${posts.id}/records`, { title: 'by-name' }, 'key-4', victimToken);
      assert.equal(a.statusCode, 200);
      // The URL differs, so the fingerprint does: 422 rather than a second record.
      assert.equal(b.statusCode, 422, b.body);
      assert.equal(b.json().code, 'idempotency_key_reused');
    });
  });
}
