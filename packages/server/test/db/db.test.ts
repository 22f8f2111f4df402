import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, freshDatabase, type TestDatabase } from '../support/databases.ts';
import { appendChanges, readChanges, lastChangeSeq, numberPlaceholders } from '../../src/db/index.ts';

describe('numberPlaceholders', () => {
  it('renumbers ? outside quotes only', () => {
    assert.equal(numberPlaceholders(`SELECT '?', "a?" FROM t WHERE a = ? AND b = ?`), `SELECT '?', "a?" FROM t WHERE a = $1 AND b = $2`);
  });
});

for (const dialect of dialects()) {
  describe(`database (${dialect})`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await freshDatabase(dialect);
    });
    after(async () => t.dispose());

    it('commits a transaction with its change events', async () => {
      await t.db.run('CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER)');
      await t.db.transaction(async (tx) => {
        await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', ['a', 1]);
        await appendChanges(tx, t.db, [{ collection: 'items', recordId: 'a', op: 'create', data: { id: 'a', n: 1 } }]);
      });
      const rows = await t.db.all('SELECT id, n FROM items');
      assert.deepEqual(rows.map((r) => ({ ...r, n: Number(r.n) })), [{ id: 'a', n: 1 }]);
      const changes = await readChanges(t.db, 0, 10);
      assert.equal(changes.length, 1);
      assert.equal(changes[0].op, 'create');
      assert.deepEqual(changes[0].data, { id: 'a', n: 1 });
    });

    it('rolls back writes and change events together', async () => {
      const before = await lastChangeSeq(t.db);
      await assert.rejects(t.db.transaction(async (tx) => {
        await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', ['b', 2]);
        await appendChanges(tx, t.db, [{ collection: 'items', recordId: 'b', op: 'create', data: {} }]);
        throw new Error('boom');
      }), /boom/);
      assert.equal(await lastChangeSeq(t.db), before);
      assert.equal((await t.db.all('SELECT id FROM items WHERE id = ?', ['b'])).length, 0);
    });

    it('serialises concurrent transactions so sequence order is commit order', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => t.db.transaction(async (tx) => {
        await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', [`c${i}`, i]);
        await appendChanges(tx, t.db, [{ collection: 'items', recordId: `c${i}`, op: 'create', data: { n: i } }]);
      })));
      const changes = await readChanges(t.db, 0, 100);
      const seqs = changes.map((c) => c.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(changes.filter((c) => c.recordId.startsWith('c')).length, 20);
    });
  });
}
