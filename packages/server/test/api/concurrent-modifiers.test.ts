/**
 * Concurrent read-modify-write updates lose nothing (security review #11): N clients sending `n+` at
 * once over real sockets store exactly N, N concurrent appends of distinct values (`rel+`, `tags+`)
 * store all N, and removals (`n-`, `rel-`, `tags-`) likewise, on both dialects. A record hook that
 * waits inside the write widens the window between reading the row and writing it, so without the
 * row lock the requests would overwrite each other (on PostgreSQL they run on separate connections).
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';

const N = 20;
const COUNTER = 'counter00000001';
const ids = Array.from({ length: N }, (_, i) => `target${String(i).padStart(9, '0')}`);
const tags = Array.from({ length: N }, (_, i) => `t${i}`);

for (const dialect of dialects()) {
  describe(`concurrent modifiers (${dialect})`, () => {
    let t: TestApp;
    let base = '';
    /** Read-modify-write sections running at once (inside the hook), and requests the server held at once. */
    let inFlight = 0;
    let maxInFlight = 0;
    let requests = 0;
    let maxRequests = 0;

    /** N requests at once over real HTTP; answers their statuses. */
    const all = (make: (i: number) => { method: string; path: string; body: unknown }) => Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const { method, path, body } = make(i);
        const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const patchAll = (body: (i: number) => unknown) => all((i) => ({ method: 'PATCH', path: `/api/collections/counters/records/${COUNTER}`, body: body(i) }));
    const counter = async () => (await (await fetch(`${base}/api/collections/counters/records/${COUNTER}`)).json()) as { n: number; rel: string[]; tags: string[] };

    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'targets', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '', fields: [{ name: 'name', type: 'text' }] });
      await createCollection(t, {
        name: 'counters', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'n', type: 'number' },
          { name: 'rel', type: 'relation', collectionId: 'targets', maxSelect: N + 1 },
          { name: 'tags', type: 'select', values: tags, maxSelect: N },
        ],
      });
      await createCollection(t, { name: 'notes', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'counter', type: 'relation', collectionId: 'counters', maxSelect: 1 }] });
      for (const id of ids) await createRecord(t, 'targets', { id, name: id });
      await createRecord(t, 'counters', { id: COUNTER, n: 0 });
      // Inside the write transaction, after the row was read and before it is written.
      t.app.records.hooks.on('update', 'counters', async (_e, next) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(3);
        inFlight--;
        await next();
      }, { id: 'widen-the-race' });
      base = await t.app.listen();
      t.app.http.server.prependListener('request', (_req, res) => {
        maxRequests = Math.max(maxRequests, ++requests);
        res.once('close', () => requests--);
      });
    });
    after(async () => t.dispose());

    it(`${N} concurrent n+ store exactly ${N}, and ${N} n- bring it back`, async () => {
      const started = Date.now();
      assert.deepEqual(await patchAll(() => ({ 'n+': 1 })), Array(N).fill(200));
      assert.equal((await counter()).n, N);
      assert.deepEqual(await patchAll(() => ({ 'n-': 1 })), Array(N).fill(200));
      assert.equal((await counter()).n, 0);
      // The requests really ran at once (they queued on the row, not in the client).
      assert.ok(Date.now() - started < 30_000);
    });

    it(`${N} concurrent rel+ of distinct records store all ${N}; rel- removes all`, async () => {
      assert.deepEqual(await patchAll((i) => ({ 'rel+': ids[i] })), Array(N).fill(200));
      assert.deepEqual([...(await counter()).rel].sort(), [...ids].sort());
      assert.deepEqual(await patchAll((i) => ({ 'rel-': ids[i] })), Array(N).fill(200));
      assert.deepEqual((await counter()).rel, []);
    });

    it(`${N} concurrent tags+ / +tags of distinct values store all ${N}; tags- removes all`, async () => {
      assert.deepEqual(await patchAll((i) => (i % 2 ? { 'tags+': tags[i] } : { '+tags': tags[i] })), Array(N).fill(200));
      assert.deepEqual([...(await counter()).tags].sort(), [...tags].sort());
      assert.deepEqual(await patchAll((i) => ({ 'tags-': [tags[i]] })), Array(N).fill(200));
      assert.deepEqual((await counter()).tags, []);
    });

    it('concurrent batches of modifiers lose nothing either', async () => {
      const start = (await counter()).n;
      const statuses = await all(() => ({
        method: 'POST', path: '/api/batch',
        body: { requests: [1, 2].map(() => ({ method: 'PATCH', url: `/api/collections/counters/records/${COUNTER}`, body: { 'n+': 1 } })) },
      }));
      assert.deepEqual(statuses, Array(N).fill(200));
      assert.equal((await counter()).n, start + 2 * N);
    });

    it('batches that create a child and then update its parent neither deadlock nor lose an update', async () => {
      // Creating a note takes KEY SHARE on the counter it points to; the PATCH then locks the counter for
      // its update. FOR UPDATE conflicts with the other batches' KEY SHARE (a deadlock every time on
      // PostgreSQL); FOR NO KEY UPDATE, the lock an UPDATE takes, does not.
      const start = (await counter()).n;
      const statuses = await all(() => ({
        method: 'POST', path: '/api/batch',
        body: { requests: [
          { method: 'POST', url: '/api/collections/notes/records', body: { counter: COUNTER } },
          { method: 'PATCH', url: `/api/collections/counters/records/${COUNTER}`, body: { 'n+': 1 } },
        ] },
      }));
      assert.deepEqual(statuses, Array(N).fill(200));
      assert.equal((await counter()).n, start + N);
    });

    it('a delete that unlinks a reference does not undo concurrent rel+ on the referrer', async () => {
      // The counter refers to targets[0]; deleting it rewrites the counter's list while others append.
      await t.app.http.inject({ method: 'PATCH', url: `/api/collections/counters/records/${COUNTER}`, payload: { rel: [ids[0]] } });
      const statuses = await all((i) => (i === 0
        ? { method: 'DELETE', path: `/api/collections/targets/records/${ids[0]}`, body: undefined }
        : { method: 'PATCH', path: `/api/collections/counters/records/${COUNTER}`, body: { 'rel+': ids[i] } }));
      assert.equal(statuses[0], 204);
      assert.deepEqual(statuses.slice(1), Array(N - 1).fill(200));
      assert.deepEqual([...(await counter()).rel].sort(), ids.slice(1).sort());
    });

    it('the requests overlapped in the server, their read-modify-write sections did not', () => {
      assert.ok(maxRequests >= N / 2, `at most ${maxRequests} requests were in the server at once`);
      // SQLite's write transactions take turns (one writer); on PostgreSQL the row lock makes them.
      assert.equal(maxInFlight, 1);
    });
  });
}
