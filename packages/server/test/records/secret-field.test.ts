/**
 * The `secret` field type (encryption at rest): values are sealed in the record table, the change log
 * and stored idempotent answers, and returned decrypted to whoever may view the record; they cannot
 * be filtered, sorted, indexed, made unique or named in rules; a sealed value copied to another record
 * or field does not open; a field rename keeps values readable.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { SecretBox } from '../../src/secrets/index.ts';
import { rowSerializer, rowToRecord } from '../../src/records/index.ts';

type Json = Record<string, any>;

interface Answer {
  status: number;
  body: Json;
  text: string;
  headers: Record<string, unknown>;
}

async function call(t: TestApp, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? t.superuserToken : opts.token;
  if (token) headers.authorization = token;
  const res = await t.app.http.inject({ method, url, headers, ...(opts.body === undefined ? {} : { payload: opts.body as Json }) });
  let body: Json = {};
  try {
    body = res.json() as Json;
  } catch {
    // 204 and non-JSON answers
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

/** Every row of `table`, as text, to search for plaintext. */
async function dump(t: TestApp, table: string): Promise<string> {
  return JSON.stringify(await t.app.db.all(`SELECT * FROM ${t.app.db.dialect.quoteIdent(table)}`));
}

/** A distinctive plaintext. */
function plaintext(label: string): string {
  return `${label}-${randomBytes(8).toString('hex')}`;
}

for (const dialect of dialects()) {
  describe(`secret fields (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, {
        name: 'vault', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'apiKey', type: 'secret', required: true, max: 40 },
          { name: 'pin', type: 'secret', hidden: true },
        ],
      });
      await createCollection(t, {
        name: 'accounts', listRule: '', viewRule: '', createRule: '',
        fields: [{ name: 'name', type: 'text' }, { name: 'vault', type: 'relation', collectionId: 'vault', maxSelect: 1 }],
      });
    });
    after(async () => t.dispose());

    it('normalises the field: default max 4096, no unique, and the OpenAPI schema is a string', async () => {
      const c = await call(t, 'GET', '/api/collections/vault');
      const fields = c.body.fields as Json[];
      assert.equal(fields.find((f) => f.name === 'apiKey')!.max, 40);
      assert.equal(fields.find((f) => f.name === 'pin')!.max, 4096);
      const doc = await call(t, 'GET', '/api/openapi.json');
      const schemas = doc.body.components.schemas as Json;
      const record = Object.values(schemas).find((s: any) => s?.properties?.collectionName?.const === 'vault') as Json;
      assert.equal(record.properties.apiKey.type, 'string');
      assert.equal(record.properties.apiKey.maxLength, 40);
      assert.equal(record.properties.pin, undefined, 'hidden fields are not in the read schema');
    });

    it('create, view, list, update and expand answer the plaintext; the table holds only sealed values', async () => {
      const key = plaintext('sk_live');
      const pin = plaintext('pin').slice(0, 30);
      const created = await call(t, 'POST', '/api/collections/vault/records', { token: null, body: { title: 'stripe', apiKey: key, pin } });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.body.apiKey, key);
      assert.equal(created.body.pin, undefined, 'hidden: not for anonymous callers');
      const id = created.body.id as string;

      const stored = await t.app.db.get<Json>('SELECT * FROM vault WHERE id = ?', [id]);
      assert.ok(SecretBox.isSealed(stored!.apiKey), 'stored sealed');
      assert.ok(SecretBox.isSealed(stored!.pin));
      assert.ok(!(await dump(t, 'vault')).includes(key));
      assert.ok(!(await dump(t, 'vault')).includes(pin));

      // View: anonymous (compiled serialiser path), with `fields`, and as superuser (hidden included).
      const anon = await call(t, 'GET', `/api/collections/vault/records/${id}`, { token: null });
      assert.equal(anon.body.apiKey, key);
      assert.equal(anon.body.pin, undefined);
      assert.deepEqual((await call(t, 'GET', `/api/collections/vault/records/${id}?fields=apiKey`, { token: null })).body, { apiKey: key });
      const su = await call(t, 'GET', `/api/collections/vault/records/${id}`);
      assert.equal(su.body.apiKey, key);
      assert.equal(su.body.pin, pin);

      const list = await call(t, 'GET', '/api/collections/vault/records', { token: null });
      assert.equal(list.body.items.find((r: Json) => r.id === id).apiKey, key);
      const suList = await call(t, 'GET', '/api/collections/vault/records');
      assert.equal(suList.body.items.find((r: Json) => r.id === id).pin, pin);

      // Update one secret: the other keeps its value (it is not re-validated from its sealed form).
      const key2 = plaintext('sk_new');
      const updated = await call(t, 'PATCH', `/api/collections/vault/records/${id}`, { token: null, body: { apiKey: key2 } });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.apiKey, key2);
      assert.equal((await call(t, 'GET', `/api/collections/vault/records/${id}`)).body.pin, pin);
      const titled = await call(t, 'PATCH', `/api/collections/vault/records/${id}`, { token: null, body: { title: 'renamed' } });
      assert.equal(titled.body.apiKey, key2, 'an update of another field keeps the secret');
      assert.ok(!(await dump(t, 'vault')).includes(key2));

      // Expand, forward and back-relation.
      const acct = await call(t, 'POST', '/api/collections/accounts/records?expand=vault', { token: null, body: { name: 'acme', vault: id } });
      assert.equal(acct.status, 200, acct.text);
      assert.equal(acct.body.expand.vault.apiKey, key2);
      assert.equal(acct.body.expand.vault.pin, undefined);
      const viaList = await call(t, 'GET', `/api/collections/accounts/records?expand=vault&filter=${encodeURIComponent(`vault = "${id}"`)}`);
      assert.equal(viaList.body.items[0].expand.vault.pin, pin, 'superusers see hidden secrets in expansions');
      const back = await call(t, 'GET', `/api/collections/vault/records/${id}?expand=accounts_via_vault`, { token: null });
      assert.equal(back.body.apiKey, key2);
      assert.equal(back.body.expand.accounts_via_vault[0].name, 'acme');
    });

    it('never leaves plaintext in the change log, the audit trail or stored idempotent answers', async () => {
      const key = plaintext('sk_idem');
      const idem = { 'idempotency-key': `k-${randomBytes(4).toString('hex')}` };
      const first = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: key }, headers: idem });
      assert.equal(first.status, 200, first.text);
      const id = first.body.id as string;
      const replay = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: key }, headers: idem });
      assert.equal(replay.status, 200);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.equal(replay.body.apiKey, key, 'a replay answers the decrypted value again');
      // Batch answers are stored too.
      const key2 = plaintext('sk_batch');
      const batch = await call(t, 'POST', '/api/batch', {
        body: { requests: [{ method: 'POST', url: '/api/collections/vault/records', body: { apiKey: key2 } }] },
        headers: { 'idempotency-key': `b-${randomBytes(4).toString('hex')}` },
      });
      assert.equal(batch.status, 200, batch.text);
      assert.ok(batch.text.includes(key2));

      for (const table of ['vault', '_changes', '_audit', '_idempotency']) {
        const text = await dump(t, table);
        assert.ok(!text.includes(key), `no plaintext in ${table}`);
        assert.ok(!text.includes(key2), `no plaintext in ${table}`);
      }
      const stored = await t.app.db.get<Json>('SELECT "apiKey" AS v FROM vault WHERE id = ?', [id]);
      const change = await t.app.db.get<{ data: string }>(`SELECT data FROM _changes WHERE collection = 'vault' AND record_id = ? AND op = 'create'`, [id]);
      assert.equal(JSON.parse(change!.data).apiKey, stored!.v, 'the change log carries the sealed value');
      const audited = await t.app.db.all(`SELECT * FROM _audit WHERE target = ?`, [`vault/${id}`]);
      assert.ok(audited.length >= 1, 'the superuser create was audited');
      const responses = await t.app.db.all<{ response: string }>(`SELECT response FROM _idempotency WHERE state = 'done'`);
      assert.ok(responses.length >= 2);
      for (const r of responses) assert.ok(SecretBox.isSealed(r.response), 'stored answers are sealed');
    });

    it('an empty secret stays empty (not sealed), and required/max are checked on the plaintext', async () => {
      const ok = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: 'x', pin: '' } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.pin, '');
      assert.equal((await t.app.db.get<Json>('SELECT pin FROM vault WHERE id = ?', [ok.body.id]))!.pin, '');
      const cleared = await call(t, 'PATCH', `/api/collections/vault/records/${ok.body.id}`, { body: { pin: 'p' } });
      assert.equal(cleared.body.pin, 'p');
      const emptied = await call(t, 'PATCH', `/api/collections/vault/records/${ok.body.id}`, { body: { pin: null } });
      assert.equal(emptied.body.pin, '');
      assert.equal((await t.app.db.get<Json>('SELECT pin FROM vault WHERE id = ?', [ok.body.id]))!.pin, '');

      const cases: [string, unknown, string][] = [
        ['missing required', { title: 'x' }, 'validation_required'],
        ['empty required', { apiKey: '' }, 'validation_required'],
        ['too long', { apiKey: 'x'.repeat(41) }, 'validation_max_text_constraint'],
        ['not a string', { apiKey: 42 }, 'validation_invalid_type'],
      ];
      for (const [name, body, code] of cases) {
        const r = await call(t, 'POST', '/api/collections/vault/records', { body });
        assert.equal(r.status, 400, name);
        assert.equal(r.body.code, 'validation_failed', name);
        assert.equal(r.body.data.apiKey.code, code, name);
      }
      // max counts characters, not bytes of the (longer) sealed form.
      const emoji = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: '🔑'.repeat(40) } });
      assert.equal(emoji.status, 200, emoji.text);
      assert.equal(emoji.body.apiKey, '🔑'.repeat(40));
    });

    it('refuses filter and sort on secret fields (400) and collection rules, indexes or unique on them', async () => {
      const refused: [string, string, string][] = [
        ['/api/collections/vault/records?filter=' + encodeURIComponent('apiKey = "x"'), 'filter_invalid', 'anonymous'],
        ['/api/collections/vault/records?filter=' + encodeURIComponent('title = "x" || apiKey != ""'), 'filter_invalid', 'superuser'],
        ['/api/collections/vault/records?filter=' + encodeURIComponent('pin ~ "1"'), 'filter_invalid', 'superuser'],
        ['/api/collections/accounts/records?filter=' + encodeURIComponent('vault.apiKey = "x"'), 'filter_invalid', 'superuser'],
        ['/api/collections/accounts/records?filter=' + encodeURIComponent('@collection.vault.apiKey ?= "x"'), 'filter_invalid', 'superuser'],
        ['/api/collections/vault/records?sort=apiKey', 'sort_invalid', 'anonymous'],
        ['/api/collections/vault/records?sort=-pin', 'sort_invalid', 'superuser'],
      ];
      for (const [url, code, who] of refused) {
        const r = await call(t, 'GET', url, { token: who === 'superuser' ? t.superuserToken : null });
        assert.equal(r.status, 400, url);
        assert.equal(r.body.code, code, url);
      }
      const badCollections: [string, Json][] = [
        ['a rule naming a secret', { name: 'bad1', listRule: 'token != ""', fields: [{ name: 'token', type: 'secret' }] }],
        ['a rule naming a secret of a relation', { name: 'bad2', viewRule: 'v.apiKey = "x"', fields: [{ name: 'v', type: 'relation', collectionId: 'vault' }] }],
        ['unique', { name: 'bad3', fields: [{ name: 'token', type: 'secret', unique: true }] }],
        ['an index', { name: 'bad4', fields: [{ name: 'token', type: 'secret' }], indexes: ['CREATE INDEX idx_token ON bad4 (token)'] }],
        ['an unknown option', { name: 'bad5', fields: [{ name: 'token', type: 'secret', pattern: '^a' }] }],
      ];
      for (const [name, body] of badCollections) {
        const r = await call(t, 'POST', '/api/collections', { body });
        assert.equal(r.status, 400, name);
        assert.equal(r.body.code, 'collection_invalid', name);
      }
      const patch = await call(t, 'PATCH', '/api/collections/vault', { body: { listRule: 'apiKey = "x"' } });
      assert.equal(patch.status, 400);
      assert.equal(patch.body.code, 'collection_invalid');
    });

    it('a sealed value copied to another record or field does not open (500 secret_unreadable); the record can still be deleted', async () => {
      const a = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: plaintext('a'), pin: '1234' } });
      const b = await call(t, 'POST', '/api/collections/vault/records', { body: { apiKey: plaintext('b') } });
      const sealedA = (await t.app.db.get<Json>('SELECT "apiKey" AS v FROM vault WHERE id = ?', [a.body.id]))!.v as string;
      // Another record, same field.
      await t.app.db.run('UPDATE vault SET "apiKey" = ? WHERE id = ?', [sealedA, b.body.id]);
      for (const url of [`/api/collections/vault/records/${b.body.id}`, `/api/collections/vault/records/${b.body.id}?fields=id,apiKey`, '/api/collections/vault/records?perPage=1000']) {
        const r = await call(t, 'GET', url, { token: null });
        assert.equal(r.status, 500, url);
        assert.equal(r.body.code, 'secret_unreadable', url);
        assert.ok(!r.text.includes('bse1.'), 'the answer carries no ciphertext');
      }
      assert.equal((await call(t, 'PATCH', `/api/collections/vault/records/${b.body.id}`, { body: { title: 'x' } })).body.code, 'secret_unreadable');
      assert.equal((await call(t, 'DELETE', `/api/collections/vault/records/${b.body.id}`)).status, 204, 'a broken record can be deleted');
      // Same record, another field.
      await t.app.db.run('UPDATE vault SET pin = ? WHERE id = ?', [sealedA, a.body.id]);
      assert.equal((await call(t, 'GET', `/api/collections/vault/records/${a.body.id}`)).body.code, 'secret_unreadable');
      // Not sealed at all (plaintext written behind the API's back).
      await t.app.db.run('UPDATE vault SET pin = ? WHERE id = ?', ['plain', a.body.id]);
      assert.equal((await call(t, 'GET', `/api/collections/vault/records/${a.body.id}`)).body.code, 'secret_unreadable');
      await call(t, 'DELETE', `/api/collections/vault/records/${a.body.id}`);
    });

    it('renaming a secret field (same id) keeps its values readable; renaming the collection too', async () => {
      await createCollection(t, { name: 'creds', listRule: '', viewRule: '', fields: [{ name: 'token', type: 'secret' }] });
      const secret = plaintext('tok');
      const r = await call(t, 'POST', '/api/collections/creds/records', { body: { token: secret } });
      const c = (await call(t, 'GET', '/api/collections/creds')).body;
      const fields = (c.fields as Json[]).map((f) => (f.name === 'token' ? { ...f, name: 'accessToken' } : f));
      const renamed = await call(t, 'PATCH', '/api/collections/creds', { body: { name: 'credentials', fields } });
      assert.equal(renamed.status, 200, renamed.text);
      const view = await call(t, 'GET', `/api/collections/credentials/records/${r.body.id}`, { token: null });
      assert.equal(view.status, 200, view.text);
      assert.equal(view.body.accessToken, secret);
    });

    it('the compiled serialiser answers what rowToRecord answers, decrypted', async () => {
      const r = await call(t, 'POST', '/api/collections/vault/records', { body: { title: 'ser', apiKey: 'k"\\\n🔑', pin: 'p' } });
      const c = t.app.registry.get('vault');
      const row = (await t.app.db.get<Json>('SELECT * FROM vault WHERE id = ?', [r.body.id]))!;
      const box = t.app.secrets;
      assert.equal(rowSerializer(c, true)(row, box), JSON.stringify(rowToRecord(c, row, box)));
      const visible = JSON.parse(rowSerializer(c, false)(row, box)) as Json;
      assert.equal(visible.apiKey, 'k"\\\n🔑');
      assert.equal(visible.pin, undefined);
      // Without a box both give the stored (sealed) form, as the change log records it.
      assert.equal(rowSerializer(c, true)(row), JSON.stringify(rowToRecord(c, row)));
      assert.ok(SecretBox.isSealed(rowToRecord(c, row).apiKey));
    });
  });
}
