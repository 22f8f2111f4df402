/**
 * ARCHITECTURE: "No acknowledged write is lost if the process is killed with SIGKILL", and the change
 * log is written in the writing transaction (no commit without its event, no event without its
 * commit). A real server child takes a burst of concurrent creates (single and batch), is killed with
 * SIGKILL while requests are still in flight, and is restarted on the same data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { freshServerData, startServer, type ServerProcess } from '../support/server-process.ts';

interface ChangeItem { seq: number; collection: string; recordId: string; op: string; data: Record<string, unknown> }

/** Every change event, oldest first. */
async function allChanges(s: ServerProcess, token: string): Promise<ChangeItem[]> {
  const out: ChangeItem[] = [];
  let after = 0;
  for (;;) {
    const r = await s.request('GET', `/api/admin/changes?after=${after}&limit=1000`, { token });
    assert.equal(r.status, 200, r.text);
    const items = (r.body as { items: ChangeItem[] }).items;
    if (items.length === 0) return out;
    for (const it of items) assert.ok(it.seq > after, 'change events come in seq order');
    out.push(...items);
    after = items[items.length - 1].seq;
  }
}

/** Every record id of a collection. */
async function allIds(s: ServerProcess, token: string, collection: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let page = 1; ; page++) {
    const r = await s.request('GET', `/api/collections/${collection}/records?perPage=1000&page=${page}&sort=id&fields=id`, { token });
    assert.equal(r.status, 200, r.text);
    const body = r.body as { items: { id: string }[]; totalPages: number };
    for (const it of body.items) ids.add(it.id);
    if (page >= body.totalPages || body.items.length === 0) return ids;
  }
}

for (const dialect of dialects()) {
  describe(`durability under SIGKILL (${dialect})`, () => {
    it('every acknowledged create survives a SIGKILL with exactly one change event, and no event lacks its record', { timeout: 60_000 }, async (t) => {
      const data = freshServerData(dialect);
      const servers: ServerProcess[] = [];
      t.after(async () => {
        for (const s of servers) await s.kill();
        await data.cleanup();
      });
      const first = await startServer(data);
      servers.push(first);
      const token = await first.superuserToken();
      const created = await first.request('POST', '/api/collections', {
        token,
        body: {
          name: 'items', type: 'base',
          fields: [{ name: 'n', type: 'number' }, { name: 'label', type: 'text', required: true }, { name: 'payload', type: 'json' }],
        },
      });
      assert.equal(created.status, 200, created.text);

      // 300 creates: 200 single requests and 20 batches of 5, all fired at once.
      const acked = new Set<string>();
      const attempted = new Set<string>();
      let inFlight = 0;
      let ackCount = 0;
      let killedWithInFlight = -1;
      let killing: Promise<void> | undefined;
      const KILL_AFTER = 90;
      const payload = { text: 'x'.repeat(2000) };
      const id = (i: number) => `dur${String(i).padStart(12, '0')}`;
      const onAck = (ids: string[]) => {
        for (const x of ids) acked.add(x);
        ackCount += ids.length;
        if (ackCount >= KILL_AFTER && !killing) {
          killedWithInFlight = inFlight - 1; // this response is done; the others are still open
          killing = first.kill();
        }
      };
      const send = async (path: string, body: unknown, ids: string[]) => {
        for (const x of ids) attempted.add(x);
        inFlight++;
        try {
          // A request that hangs means the server is stuck (e.g. a deadlock); fail fast instead of waiting for undici's 300 s.
          const res = await fetch(`${first.url}${path}`, {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          if (res.status === 200) {
            const json = JSON.parse(text) as { id: string } | { status: number; body: { id: string } }[];
            const got = Array.isArray(json) ? json.map((r) => { assert.equal(r.status, 200); return r.body.id; }) : [json.id];
            assert.deepEqual(got, ids, 'the server answers with the ids the client chose');
            onAck(got);
          } else if (!killing) {
            assert.fail(`unexpected ${res.status} before the kill: ${text}`);
          }
        } catch (e) {
          // Connection reset / socket closed: only expected once the process is being killed.
          if (!killing) {
            throw new Error(`${path} failed before the kill (acks so far: ${ackCount}, in flight: ${inFlight}): ${String(e)}`, { cause: e });
          }
        } finally {
          inFlight--;
        }
      };
      const ops: Promise<void>[] = [];
      let n = 0;
      for (let k = 0; k < 220; k++) {
        if (k % 11 === 10) {
          const ids = [0, 1, 2, 3, 4].map(() => id(n++));
          ops.push(send('/api/batch', { requests: ids.map((x, j) => ({ method: 'POST', url: '/api/collections/items/records', body: { id: x, n: j, label: `batch ${x}`, payload } })) }, ids));
        } else {
          const x = id(n++);
          ops.push(send('/api/collections/items/records', { id: x, n: k, label: `single ${x}`, payload }, [x]));
        }
      }
      assert.equal(n, 300);
      const settled = await Promise.allSettled(ops);
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      assert.ok(killing, `the server was killed (acks: ${ackCount})\n${first.output()}`);
      await killing;
      const exit = await first.exited;
      assert.equal(exit.signal, 'SIGKILL', `the server died of SIGKILL, not on its own: ${JSON.stringify(exit)}\n${first.output()}`);
      assert.ok(killedWithInFlight > 0, `requests were still in flight at the kill (${killedWithInFlight})`);
      assert.ok(acked.size >= KILL_AFTER && acked.size < 300, `acked ${acked.size} of 300`);

      const second = await startServer(data);
      servers.push(second);
      const token2 = await second.superuserToken();
      const stored = await allIds(second, token2, 'items');
      const lost = [...acked].filter((x) => !stored.has(x));
      assert.deepEqual(lost, [], `acknowledged records lost after SIGKILL (${lost.length} of ${acked.size})`);
      const strangers = [...stored].filter((x) => !attempted.has(x));
      assert.deepEqual(strangers, [], 'no record appears that nobody created');

      const changes = (await allChanges(second, token2)).filter((c) => c.collection === 'items');
      const creates = new Map<string, number>();
      for (const c of changes) {
        assert.equal(c.op, 'create', `only creates happened: ${JSON.stringify(c).slice(0, 200)}`);
        creates.set(c.recordId, (creates.get(c.recordId) ?? 0) + 1);
        assert.equal(c.data.id, c.recordId);
      }
      for (const x of acked) assert.equal(creates.get(x), 1, `acknowledged ${x} has exactly one create event`);
      for (const x of stored) assert.equal(creates.get(x), 1, `stored ${x} has exactly one create event (no commit without its event)`);
      const orphans = [...creates.keys()].filter((x) => !stored.has(x));
      assert.deepEqual(orphans, [], 'no change event without its commit');
      const seqs = changes.map((c) => c.seq);
      assert.equal(new Set(seqs).size, seqs.length, 'seqs are unique');

      // The restarted server keeps working and keeps counting after the old log.
      const after = await second.request('POST', '/api/collections/items/records', { token: token2, body: { label: 'after restart' } });
      assert.equal(after.status, 200, after.text);
      const tail = await allChanges(second, token2);
      const last = tail[tail.length - 1];
      assert.equal(last.recordId, (after.body as { id: string }).id);
      assert.ok(last.seq > Math.max(...seqs));
      await second.stop();
    });
  });
}
