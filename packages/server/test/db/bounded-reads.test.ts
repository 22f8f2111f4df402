/**
 * Bounded reads (`Database.readBounded`): a statement that runs past `queryTimeoutMs` is cancelled
 * with `query_timeout`, the database keeps answering, and slow reads never take what other requests
 * need (PostgreSQL's main pool, SQLite's main thread). Real databases, both dialects.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, freshLocation, postgresTestUrl, type DialectName } from '../support/databases.ts';
import { openDatabase, openPostgres, openSqlite, type Database } from '../../src/db/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';

const LIMIT_MS = 400;
/** How late a cancellation may come on a loaded 2-core test machine. */
const SLACK_MS = 1500;
const ROWS = 60;

/** 60⁵ ≈ 780 million joined rows: minutes without the limit, on either database. */
function slowSql(db: Database): string {
  const g = db.dialect.rowGuard;
  return `SELECT COUNT(*) AS n FROM slow_rows a LEFT JOIN slow_rows b ON ${g('b.id')} LEFT JOIN slow_rows c ON ${g('c.id')} `
    + `LEFT JOIN slow_rows d ON ${g('d.id')} LEFT JOIN slow_rows e ON ${g('e.id')} WHERE COALESCE(a.n + b.n + c.n + d.n + e.n, 0) >= 0`;
}

/** The code of a rejection, or 'resolved'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isBasaltError(e) ? e.code : `other: ${(e as Error).message}`;
  }
}

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await p;
  return { ms: performance.now() - start, value };
}

async function count(db: Database): Promise<number> {
  const [row] = await db.readBounded<{ n: number }>('SELECT COUNT(*) AS n FROM slow_rows');
  return Number(row.n);
}

for (const dialect of dialects()) {
  describe(`bounded reads (${dialect})`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    before(async () => {
      const loc = freshLocation(dialect);
      db = await openDatabase({ url: loc.url, sqlitePath: loc.sqlitePath ?? ':memory:', schema: loc.schema, queryTimeoutMs: LIMIT_MS });
      cleanup = loc.cleanup;
      await db.run('CREATE TABLE slow_rows (id TEXT PRIMARY KEY, n INTEGER, label TEXT)');
      await db.transaction(async (tx) => {
        for (let i = 0; i < ROWS; i++) await tx.run('INSERT INTO slow_rows (id, n, label) VALUES (?, ?, ?)', [`r${i}`, i, i % 2 ? `label ${i}` : null]);
      });
    });
    after(async () => {
      await db.close();
      await cleanup();
    });

    it('answers like all() for a normal read', async () => {
      const sql = 'SELECT id, n, label FROM slow_rows WHERE n < ? ORDER BY n';
      assert.deepEqual((await db.readBounded(sql, [3])).map((r) => ({ ...r })), (await db.all(sql, [3])).map((r) => ({ ...r })));
    });

    it('cancels a slow statement near the limit with query_timeout, and the database answers right after', async () => {
      const { ms, value } = await timed(outcome(db.readBounded(slowSql(db))));
      assert.equal(value, 'query_timeout');
      assert.ok(ms >= LIMIT_MS - 50, `cancelled after ${ms} ms, before the limit`);
      assert.ok(ms < LIMIT_MS + SLACK_MS, `cancelled after ${ms} ms`);
      assert.equal(await count(db), ROWS);
      assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM slow_rows'))?.n), ROWS);
    });

    it('more slow reads than connections or workers: each ends with a stable code, other queries answer meanwhile', async () => {
      const slow = Array.from({ length: 8 }, () => outcome(db.readBounded(slowSql(db))));
      // While they run, the main connections answer at once (PostgreSQL: the main pool is untouched;
      // SQLite: the main thread is free).
      await new Promise((r) => setTimeout(r, 50));
      const during = await timed(db.get<{ n: number }>('SELECT COUNT(*) AS n FROM slow_rows'));
      assert.equal(Number(during.value?.n), ROWS);
      assert.ok(during.ms < 200, `a main-connection query took ${during.ms} ms during slow bounded reads`);
      const codes = await Promise.all(slow);
      for (const c of codes) assert.ok(c === 'query_timeout' || c === 'database_busy', c);
      assert.ok(codes.includes('query_timeout'));
      // Nothing is left holding a connection or a worker.
      const after = await timed(count(db));
      assert.equal(after.value, ROWS);
      assert.ok(after.ms < 1000, `a bounded read took ${after.ms} ms after the slow ones`);
    });

    it('a driver error stays the driver error', async () => {
      const code = await outcome(db.readBounded('SELECT no_such_column FROM slow_rows'));
      assert.match(code, /^other: /);
      assert.equal(await count(db), ROWS);
    });

    if (dialect === 'sqlite') {
      it('a statement without row guards is abandoned at 1.5 × the limit, and its worker replaced', async () => {
        // About 1–5 s of work: the abandoned thread only ends when the statement does (and the test
        // process waits for it at exit), so it must not be endless.
        const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT COUNT(*) AS n FROM c';
        const { ms, value } = await timed(outcome(db.readBounded(sql)));
        assert.equal(value, 'query_timeout');
        assert.ok(ms >= LIMIT_MS * 1.5 - 50 && ms < LIMIT_MS * 1.5 + SLACK_MS, `answered after ${ms} ms`);
        assert.equal(await count(db), ROWS);
      });

      it('an in-memory database bounds reads on the main thread', async () => {
        const mem = openSqlite({ path: ':memory:', queryTimeoutMs: LIMIT_MS });
        try {
          await mem.run('CREATE TABLE slow_rows (id TEXT PRIMARY KEY, n INTEGER)');
          for (let i = 0; i < ROWS; i++) await mem.run('INSERT INTO slow_rows (id, n) VALUES (?, ?)', [`r${i}`, i]);
          const { ms, value } = await timed(outcome(mem.readBounded(slowSql(mem))));
          assert.equal(value, 'query_timeout');
          assert.ok(ms < LIMIT_MS + SLACK_MS, `cancelled after ${ms} ms`);
          assert.equal(await count(mem), ROWS);
        } finally {
          await mem.close();
        }
      });

      it('after close, bounded reads are refused', async () => {
        const loc = freshLocation('sqlite');
        const closed = openSqlite({ path: loc.sqlitePath!, queryTimeoutMs: LIMIT_MS });
        await closed.readBounded('SELECT 1 AS one');
        await closed.close();
        assert.equal(await outcome(closed.readBounded('SELECT 1 AS one')), 'unavailable');
        await loc.cleanup();
      });
    }

    if (dialect === 'postgres') {
      it('the main pool can have a safety-net statement_timeout outside transactions (off by default), none inside', async () => {
        const loc = freshLocation('postgres' satisfies DialectName);
        const net = await openPostgres({ url: postgresTestUrl!, schema: loc.schema, safetyNetTimeoutMs: 300 });
        try {
          assert.equal(await outcome(net.get('SELECT pg_sleep(2)')), 'query_timeout');
          assert.equal(await outcome(net.transaction((tx) => tx.get('SELECT pg_sleep(0.6)'))), 'resolved');
          assert.equal(Number((await net.get<{ one: number }>('SELECT 1 AS one'))?.one), 1);
        } finally {
          await net.close();
          await loc.cleanup();
        }
      });
    }
  });
}
