/**
 * Regression (security review, MEDIUM): `basalt keys rotate` left the sealed secret values inside the
 * change log (`_changes.data`) under the old master key, so after retiring a leaked key the log still
 * held every past secret under it, and consumers of the log got `secret_unreadable` once the key was
 * removed. The rotation now re-wraps them too — also for events written before a field or collection
 * was renamed, and for collections since deleted — leaves the rest of each event byte for byte as it
 * was, skips sealed-looking text in collections that never had a secret field, names what it cannot
 * open by (`_changes`, seq, key) without the value, and resumes after an interruption.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BasaltApp } from '../../src/app/index.ts';
import { newMasterKeyEntry, parseMasterKeys, SecretBox } from '../../src/secrets/index.ts';
import { rotateSealedValues } from '../../src/records/index.ts';
import { dialects } from '../support/databases.ts';
import { freshServerData, runCli } from '../support/server-process.ts';
import { openKeyedApp, keysConfigFile, seedVault } from '../support/keyed-app.ts';

type Json = Record<string, any>;
type ChangeRow = { seq: number | string; collection: string; record_id: string; data: string };

async function call(app: BasaltApp, token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await app.http.inject({ method, url, headers: { authorization: token }, ...(body === undefined ? {} : { payload: body as Json }) });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return { status: res.statusCode, body: res.statusCode === 204 ? {} : (res.json() as Json) };
}

/** Record events of the test's collections (not the schema's, nor the superuser's own). */
const recordEvents = (app: BasaltApp) => app.db.all<ChangeRow>(`SELECT seq, collection, record_id, data FROM _changes WHERE collection NOT IN ('_collections', '_superusers') ORDER BY seq`);

/** The event's text with every sealed value blanked: what must not change in a rotation. */
const shape = (text: string) => text.replace(/"bse1\.[A-Za-z0-9_.-]+"/g, '"<sealed>"');

for (const dialect of dialects()) {
  describe(`basalt keys rotate re-wraps the change log (${dialect})`, () => {
    it('re-wraps sealed values in _changes across renames and deletions; the old key can then be removed', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      const stranger = new SecretBox(parseMasterKeys([newMasterKeyEntry('S')]));
      const lookalike = stranger.seal('not a secret field', 'anywhere');
      const fieldIds = new Map<string, string>(); // field name at creation → id
      let before: ChangeRow[];
      {
        const { app, token } = await openKeyedApp(data, [keyA]);
        try {
          const vault = await call(app, token, 'POST', '/api/collections', {
            name: 'vault', fields: [{ name: 'apiKey', type: 'secret' }, { name: 'note', type: 'secret' }, { name: 'count', type: 'number' }, { name: 'label', type: 'text' }],
          });
          for (const f of vault.body.fields as Json[]) fieldIds.set(f.name, f.id);
          const r1 = await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'k1', note: 'n1', count: 42.5, label: 'ünïcode "quoted" \\ \u2028' });
          await call(app, token, 'PATCH', `/api/collections/vault/records/${r1.body.id}`, { apiKey: 'k1b' });
          // Rename the field, then the collection: older events keep the old names.
          const fields = (vault.body.fields as Json[]).map((f) => (f.name === 'apiKey' ? { ...f, name: 'token' } : f));
          await call(app, token, 'PATCH', '/api/collections/vault', { fields });
          const r2 = await call(app, token, 'POST', '/api/collections/vault/records', { token: 'k2' });
          await call(app, token, 'PATCH', '/api/collections/vault', { name: 'safe' });
          await call(app, token, 'POST', '/api/collections/safe/records', { token: 'k3' });
          await call(app, token, 'DELETE', `/api/collections/safe/records/${r2.body.id}`);
          // A collection with a secret field, since deleted: its events stay in the log.
          const gone = await call(app, token, 'POST', '/api/collections', { name: 'gone', fields: [{ name: 'pin', type: 'secret' }] });
          fieldIds.set('pin', (gone.body.fields as Json[]).find((f) => f.name === 'pin')!.id);
          await call(app, token, 'POST', '/api/collections/gone/records', { pin: 'p1' });
          await call(app, token, 'DELETE', '/api/collections/gone');
          // A collection without secret fields whose text merely looks sealed: data, not a secret.
          await call(app, token, 'POST', '/api/collections', { name: 'notes', fields: [{ name: 'body', type: 'text' }] });
          await call(app, token, 'POST', '/api/collections/notes/records', { body: lookalike });
          before = await recordEvents(app);
        } finally {
          await app.close();
        }
      }

      // Table values: safe r1 (token, note), r3 (token) = 3. Log values: create r1 (2), update r1 (2),
      // create r2 (1), create r3 (1), delete r2 (1), create g1 (1) = 8.
      const first = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /re-wrapped 11, already current 0, unreadable 0, changed during rotation 0/);
      assert.doesNotMatch(first.stdout + first.stderr, /bse1\.|k1b|n1|p1/, 'no key material, ciphertext or plaintext in the output');
      const again = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /re-wrapped 0, already current 11, unreadable 0/);

      // [B] alone opens every sealed value of the log under its own aad; everything else is unchanged.
      const { app } = await openKeyedApp(data, [keyB]);
      try {
        const box = new SecretBox(parseMasterKeys([keyB]));
        const after = await recordEvents(app);
        assert.deepEqual(after.map((r) => shape(r.data)), before!.map((r) => shape(r.data)), 'only the sealed values changed');
        const opened: string[] = [];
        for (const row of after) {
          const event = JSON.parse(row.data) as Json;
          for (const [key, value] of Object.entries(event)) {
            if (!SecretBox.isSealed(value)) continue;
            if (row.collection === 'notes') {
              assert.equal(value, lookalike, 'a look-alike in a collection without secret fields is left alone');
              continue;
            }
            assert.equal(value.split('.')[1], 'B', `${row.collection} ${row.seq} ${key}`);
            const fieldId = fieldIds.get(key === 'token' ? 'apiKey' : key)!;
            opened.push(box.open(value, `${event.collectionId}/${row.record_id}/${fieldId}`));
          }
        }
        assert.deepEqual(opened.sort(), ['k1', 'k1b', 'k2', 'k2', 'k3', 'n1', 'n1', 'p1']);
        assert.deepEqual(after.map((r) => r.seq), before!.map((r) => r.seq));
        const audit = await app.db.all<{ outcome: string; details: string }>(`SELECT outcome, details FROM _audit WHERE action = 'keys.rotate_encryption' ORDER BY seq`);
        assert.deepEqual(audit.map((a) => a.outcome), ['success', 'success']);
        assert.equal(JSON.parse(audit[0].details).rewrapped, 11);
        assert.doesNotMatch(JSON.stringify(audit), /bse1\.|k1b/);
      } finally {
        await app.close();
      }
    });

    it('exits 1 naming (_changes, seq, key) for log values it cannot open or attribute, never the value', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      let moved = '';
      let ghost = '';
      {
        const { app, token } = await openKeyedApp(data, [keyA]);
        try {
          await call(app, token, 'POST', '/api/collections', { name: 'vault', fields: [{ name: 'apiKey', type: 'secret' }] });
          await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'value-of-a' });
          await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'value-of-b' });
          const [a, b] = await recordEvents(app);
          // b's event gets a's sealed value (moved: it opens only under a's aad) ...
          const sealedA = (JSON.parse(a.data) as Json).apiKey as string;
          await app.db.run('UPDATE _changes SET data = ? WHERE seq = ?', [JSON.stringify({ ...JSON.parse(b.data), apiKey: sealedA }), b.seq]);
          moved = String(b.seq);
          // ... and an event of a collection nobody knows carries a sealed value (cannot be attributed).
          const row = await app.db.get<{ seq: number | string }>('INSERT INTO _changes (collection, record_id, op, data, created) VALUES (?, ?, ?, ?, ?) RETURNING seq',
            ['ghost', 'ghostrecord0001', 'create', JSON.stringify({ id: 'ghostrecord0001', apiKey: sealedA }), '2026-01-01 00:00:00.000Z']);
          ghost = String(row!.seq);
        } finally {
          await app.close();
        }
      }
      const r = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /re-wrapped 3, already current 0, unreadable 2/);
      assert.match(r.stderr, new RegExp(`cannot open _changes ${moved} apiKey`));
      assert.match(r.stderr, new RegExp(`cannot open _changes ${ghost} apiKey`));
      assert.doesNotMatch(r.stdout + r.stderr, /value-of|bse1\./, 'no plaintext or ciphertext in the output');
    });

    it('works through the log in batches; an interrupted run resumes by running again (in process)', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      await seedVault(data, keyA, 7);
      const { app } = await openKeyedApp(data, [keyB, keyA]);
      try {
        const kids = async () => [...new Set((await recordEvents(app)).map((r) => ((JSON.parse(r.data) as Json).apiKey as string).split('.')[1]))].sort();
        let logBatches = 0;
        await assert.rejects(rotateSealedValues(app.db, app.registry, app.secrets, {
          batchRows: 3,
          progress: (table) => {
            if (table === '_changes' && ++logBatches === 1) throw new Error('killed');
          },
        }), /killed/);
        // The first batch of three events is committed under B, the rest still under A.
        assert.deepEqual(await kids(), ['A', 'B']);
        const batches: number[] = [];
        const resumed = await rotateSealedValues(app.db, app.registry, app.secrets, { batchRows: 3, progress: (table, r) => table === '_changes' && batches.push(r.rewrapped) });
        assert.deepEqual([resumed.rewrapped, resumed.current, resumed.unreadable], [4, 7 + 3, 0]);
        assert.deepEqual(batches, [0, 3, 4], 'three batches of at most three events');
        assert.deepEqual(await kids(), ['B']);
      } finally {
        await app.close();
      }
    });
  });
}
