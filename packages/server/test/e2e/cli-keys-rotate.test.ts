/**
 * `basalt keys rotate` and `basalt keys new-master` as operators run them: values sealed under key A
 * are re-wrapped under B with encryptionKeys = [B, A], after which [B] alone reads everything (secret
 * fields and stored idempotent answers); a second run re-wraps nothing (resuming is re-running);
 * a value that cannot be opened makes the command exit 1, naming where it is, never what it is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BasaltApp } from '../../src/app/index.ts';
import { newMasterKeyEntry, parseMasterKeys, SecretBox } from '../../src/secrets/index.ts';
import { rotateSealedValues } from '../../src/records/index.ts';
import { dialects } from '../support/databases.ts';
import { SUPERUSER_EMAIL, SUPERUSER_PASSWORD } from '../support/app.ts';
import { freshServerData, runCli } from '../support/server-process.ts';
import { openKeyedApp, keysConfigFile, seedVault } from '../support/keyed-app.ts';

type Json = Record<string, any>;

async function call(app: BasaltApp, token: string, method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await app.http.inject({ method, url, headers: { authorization: token, ...headers }, ...(body === undefined ? {} : { payload: body as Json }) });
  return { status: res.statusCode, body: res.json() as Json, headers: res.headers };
}

/** The key id every stored secret value of `table` is wrapped by. */
async function keyIds(app: BasaltApp, table: string, column: string): Promise<string[]> {
  const q = app.db.dialect.quoteIdent;
  const rows = await app.db.all<{ v: string }>(`SELECT ${q(column)} AS v FROM ${q(table)} WHERE ${q(column)} != ''`);
  return [...new Set(rows.map((r) => r.v.split('.')[1]))].sort();
}

for (const dialect of dialects()) {
  describe(`basalt keys rotate (${dialect})`, () => {
    it('re-wraps every sealed value with the new key; the old key can then be removed; a second run re-wraps nothing', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');

      // Seal under A: secret fields of two collections (one value left empty) and a stored idempotent answer.
      const secrets = new Map<string, string>();
      {
        const { app, token } = await openKeyedApp(data, [keyA]);
        try {
          for (const name of ['vault', 'creds']) {
            const c = await call(app, token, 'POST', '/api/collections', { name, listRule: '', viewRule: '', fields: [{ name: 'apiKey', type: 'secret' }, { name: 'note', type: 'secret', hidden: true }] });
            assert.equal(c.status, 200);
          }
          for (let i = 0; i < 7; i++) {
            const collection = i % 2 ? 'vault' : 'creds';
            const value = `secret-${i}-${'x'.repeat(i)}`;
            const r = await call(app, token, 'POST', `/api/collections/${collection}/records`, { apiKey: value, note: i === 3 ? '' : `note-${i}` }, { 'idempotency-key': `key-${i}` });
            assert.equal(r.status, 200);
            secrets.set(`${collection}/${r.body.id}`, value);
          }
          assert.deepEqual(await keyIds(app, 'vault', 'apiKey'), ['A']);
        } finally {
          await app.close();
        }
      }

      // Usage: --help, and a bad subcommand is a usage error.
      const help = await runCli(['keys', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /rotate-signing[\s\S]*rotate[\s\S]*new-master/);
      assert.equal((await runCli(['keys', 'rotate', 'extra', ...data.flags()])).code, 2);

      // [B, A]: rotate. 7 × apiKey + 6 non-empty notes + 7 stored answers, and the same 13 secret values
      // in the change log's create events.
      const first = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /active encryption key "B": re-wrapped 33, already current 0, unreadable 0/);
      const again = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /re-wrapped 0, already current 33, unreadable 0/);

      // [B] alone reads every value, and replays the stored answers.
      const { app, token } = await openKeyedApp(data, [keyB]);
      try {
        assert.deepEqual(await keyIds(app, 'vault', 'apiKey'), ['B']);
        assert.deepEqual(await keyIds(app, '_idempotency', 'response'), ['B']);
        for (const [path, value] of secrets) {
          const [collection, id] = path.split('/');
          const r = await call(app, token, 'GET', `/api/collections/${collection}/records/${id}`);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.apiKey, value);
        }
        const replay = await call(app, token, 'POST', '/api/collections/creds/records', { apiKey: 'secret-0-', note: 'note-0' }, { 'idempotency-key': 'key-0' });
        assert.equal(replay.status, 200);
        assert.equal(replay.headers['idempotent-replayed'], 'true');
        assert.equal(replay.body.apiKey, 'secret-0-');
        const audit = await app.db.all<{ outcome: string; details: string }>(`SELECT outcome, details FROM _audit WHERE action = 'keys.rotate_encryption' ORDER BY seq`);
        assert.deepEqual(audit.map((a) => a.outcome), ['success', 'success']);
        assert.equal(JSON.parse(audit[0].details).rewrapped, 33);
      } finally {
        await app.close();
      }
    });

    it('exits 1 and names (table, record, field) every value it cannot open, never the value', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      const { app, token } = await openKeyedApp(data, [keyA]);
      let moved = '';
      let foreign = '';
      try {
        await call(app, token, 'POST', '/api/collections', { name: 'vault', fields: [{ name: 'apiKey', type: 'secret' }] });
        const a = await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'value-of-a' });
        const b = await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'value-of-b' });
        const c = await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: 'value-of-c' });
        // b gets a's sealed value (moved); c gets a value sealed under a key nobody configured.
        const sealedA = (await app.db.get<{ v: string }>('SELECT "apiKey" AS v FROM vault WHERE id = ?', [a.body.id]))!.v;
        await app.db.run('UPDATE vault SET "apiKey" = ? WHERE id = ?', [sealedA, b.body.id]);
        const stranger = new SecretBox(parseMasterKeys([newMasterKeyEntry('C')]));
        const vault = app.registry.get('vault');
        const field = vault.fields.find((f) => f.name === 'apiKey')!;
        await app.db.run('UPDATE vault SET "apiKey" = ? WHERE id = ?', [stranger.seal('value-of-c', `${vault.id}/${c.body.id}/${field.id}`), c.body.id]);
        moved = b.body.id;
        foreign = c.body.id;
      } finally {
        await app.close();
      }
      const r = await runCli(['keys', 'rotate', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      // a's value in vault, plus the three create events in the change log (sealed under A when written).
      assert.match(r.stdout, /re-wrapped 4, already current 0, unreadable 2/);
      assert.match(r.stderr, new RegExp(`cannot open vault ${moved} apiKey`));
      assert.match(r.stderr, new RegExp(`cannot open vault ${foreign} apiKey`));
      assert.doesNotMatch(r.stdout + r.stderr, /value-of|bse1\./, 'no plaintext or ciphertext in the output');
    });

    it('works through each table in primary-key batches, and an interrupted run resumes by running again (in process)', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      await seedVault(data, keyA, 11);
      const { app } = await openKeyedApp(data, [keyB, keyA]);
      try {
        // Interrupted after its first batch: that batch stays committed, the rest is still under A.
        await assert.rejects(rotateSealedValues(app.db, app.registry, app.secrets, { batchRows: 3, progress: () => { throw new Error('killed'); } }), /killed/);
        assert.deepEqual(await keyIds(app, 'vault', 'apiKey'), ['A', 'B']);
        // Running it again is the resume: the first three are already current.
        const resumed = await rotateSealedValues(app.db, app.registry, app.secrets, { batchRows: 3 });
        // 8 in vault, plus the 11 create events in the change log.
        assert.deepEqual([resumed.rewrapped, resumed.current], [19, 3]);
        // Start over with 11 rows under A, to count the batches.
        const rows = Array.from({ length: 11 }, (_, i) => ({ id: `rec${String(i).padStart(12, '0')}`, v: `v${i}` }));
        const sealer = new SecretBox(parseMasterKeys([keyA]));
        const vault = app.registry.get('vault');
        const field = vault.fields.find((f) => f.name === 'apiKey')!;
        await app.db.run('DELETE FROM vault');
        for (const r of rows) await app.db.run('INSERT INTO vault (id, "apiKey") VALUES (?, ?)', [r.id, sealer.seal(r.v, `${vault.id}/${r.id}/${field.id}`)]);
        const batches: number[] = [];
        const report = await rotateSealedValues(app.db, app.registry, app.secrets, { batchRows: 3, progress: (table, r) => table === 'vault' && batches.push(r.rewrapped) });
        assert.equal(report.rewrapped, 11);
        assert.equal(report.unreadable, 0);
        assert.deepEqual(batches, [3, 6, 9, 11], 'four batches of at most three rows');
        assert.deepEqual(await keyIds(app, 'vault', 'apiKey'), ['B']);
        const list = await app.http.inject({ method: 'GET', url: '/api/collections/vault/records?perPage=100&sort=id', headers: { authorization: (await app.auth.authWithPassword('_superusers', SUPERUSER_EMAIL, SUPERUSER_PASSWORD, { ip: '127.0.0.1', userAgent: 't' })).token } });
        assert.deepEqual((list.json() as Json).items.map((r: Json) => r.apiKey), rows.map((r) => r.v));
      } finally {
        await app.close();
      }
    });

    it('--reencrypt seals every value anew under a fresh data key, the change log included (after a key leak)', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const keyA = newMasterKeyEntry('A');
      const keyB = newMasterKeyEntry('B');
      const q = (app: BasaltApp) => Promise.all([
        app.db.all<{ id: string; v: string }>('SELECT id, "apiKey" AS v FROM vault ORDER BY id'),
        app.db.all<{ record_id: string; data: string }>(`SELECT record_id, data FROM _changes WHERE collection = 'vault' ORDER BY seq`),
      ]);
      let before: Awaited<ReturnType<typeof q>>;
      {
        const { app, token } = await openKeyedApp(data, [keyA]);
        try {
          await call(app, token, 'POST', '/api/collections', { name: 'vault', fields: [{ name: 'apiKey', type: 'secret' }] });
          for (const v of ['r0', 'r1', 'r2']) await call(app, token, 'POST', '/api/collections/vault/records', { apiKey: `value-${v}` });
          before = await q(app);
        } finally {
          await app.close();
        }
      }
      assert.equal((await runCli(['keys', 'rotate-signing', '--reencrypt', ...data.flags()])).code, 2);
      const r = await runCli(['keys', 'rotate', '--reencrypt', ...data.flags(), ...keysConfigFile(data, 'ba', [keyB, keyA])]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /active encryption key "B": re-encrypted 6, already current 0, unreadable 0/);
      assert.doesNotMatch(r.stdout + r.stderr, /value-r|bse1\./);
      const { app, token } = await openKeyedApp(data, [keyB]);
      try {
        const [rows, events] = await q(app);
        // Nothing of the old envelope survives: wrapped data key, nonce and ciphertext are all new.
        const parts = (v: string) => v.split('.').slice(3);
        const olds = [...before![0].map((x) => x.v), ...before![1].map((e) => JSON.parse(e.data).apiKey as string)].flatMap(parts);
        const news = [...rows.map((x) => x.v), ...events.map((e) => JSON.parse(e.data).apiKey as string)];
        assert.equal(news.length, 6);
        for (const v of news) {
          assert.equal(v.split('.')[1], 'B');
          for (const part of parts(v)) assert.ok(!olds.includes(part), 'a fresh data key, nonce and ciphertext');
        }
        // ... and every value still reads, in the table and in the log.
        const read = await Promise.all(rows.map(async (row) => (await call(app, token, 'GET', `/api/collections/vault/records/${row.id}`)).body.apiKey as string));
        assert.deepEqual(read.sort(), ['value-r0', 'value-r1', 'value-r2']);
        const vault = app.registry.get('vault');
        const field = vault.fields.find((f) => f.name === 'apiKey')!;
        const box = new SecretBox(parseMasterKeys([keyB]));
        assert.deepEqual(events.map((e) => box.open(JSON.parse(e.data).apiKey as string, `${vault.id}/${e.record_id}/${field.id}`)).sort(), ['value-r0', 'value-r1', 'value-r2']);
        const audit = await app.db.all<{ details: string }>(`SELECT details FROM _audit WHERE action = 'keys.rotate_encryption'`);
        assert.equal(JSON.parse(audit[0].details).reencrypt, true);
      } finally {
        await app.close();
      }
    });

    it('new-master prints a usable key entry', async () => {
      const r = await runCli(['keys', 'new-master', 'prod-2026']);
      assert.equal(r.code, 0, r.stderr);
      const [key] = parseMasterKeys([r.stdout.trim()]);
      assert.equal(key.id, 'prod-2026');
      const dflt = await runCli(['keys', 'new-master']);
      assert.equal(parseMasterKeys([dflt.stdout.trim()])[0].id.startsWith('k'), true);
      assert.equal((await runCli(['keys', 'new-master', 'not valid!'])).code, 2);
    });
  });
}
