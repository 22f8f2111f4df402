/**
 * One SQLite connection as Basalt opens it — the same pragmas, statement cache and row guard on the
 * main thread's reader and writer and on the bounded-read workers (sqlite-read-worker.ts).
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { Executor, Row, SqlValue } from '../db-types.ts';

/** Name of the SQL function {@link sqliteRowGuard} calls; registered on every connection. */
export const ROW_GUARD_FUNCTION = 'basalt_guard';

/**
 * The per-row deadline check that the rule compiler puts into every `@collection` / relation JOIN
 * (`Dialect.rowGuard`). `node:sqlite` has no progress handler and no `sqlite3_interrupt`, so a user
 * function that throws is the only way to stop a running `sqlite3_step`: SQLite evaluates the ON term
 * for each candidate row of the nested loop and aborts the statement when the function fails.
 *
 * Calling into JavaScript costs about 0.3 µs, so only about one row in 16 pays it: SQLite's own
 * `random()` (native, never hoisted out of the loop because it is not deterministic) picks which.
 * The column argument keeps the call inside the loop of the joined table as well: a constant
 * argument would let SQLite evaluate it once for the whole statement.
 */
export function sqliteRowGuard(columnExpr: string): string {
  return `(CASE WHEN random() & 15 THEN 1 ELSE ${ROW_GUARD_FUNCTION}(${columnExpr}) END)`;
}

/** Marker message of the error the row guard throws (the worker and the main thread test `expired`, not the text). */
const GUARD_MESSAGE = 'basalt: statement deadline passed';

/** Deadline state of one connection: `deadline` is `Date.now()` ms, 0 for none. */
export interface GuardState {
  deadline: number;
  /** Set when the guard stopped a statement; reset by whoever set the deadline. */
  expired: boolean;
}

function toSqlite(v: SqlValue): SQLInputValue {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

const NO_PARAMS: SQLInputValue[] = [];

/** Bound values as `node:sqlite` takes them (booleans as 1/0). */
export function bind(params: readonly SqlValue[] | undefined): SQLInputValue[] {
  if (!params || params.length === 0) return NO_PARAMS;
  // Copy only when a boolean needs converting; most parameter lists pass through as they are.
  for (let i = 0; i < params.length; i++) if (typeof params[i] === 'boolean') return params.map(toSqlite);
  return params as SQLInputValue[];
}

/** Options of {@link openConnection}. */
export interface ConnectionOptions {
  /** Busy timeout in ms for the rare case another process holds the write lock. */
  busyTimeoutMs: number;
  /** A connection that never writes (the bounded-read workers): `PRAGMA query_only`. */
  readOnly?: boolean;
}

/** Prepared statements are cached per connection: compile once, run many. */
export class Connection implements Executor {
  readonly db: DatabaseSync;
  /** The row guard's deadline on this connection (see {@link sqliteRowGuard}). */
  readonly guard: GuardState = { deadline: 0, expired: false };
  readonly #cache = new Map<string, StatementSync>();
  constructor(db: DatabaseSync) {
    this.db = db;
    const guard = this.guard;
    // Not deterministic, so SQLite never folds it into a constant or caches its result per statement.
    db.function(ROW_GUARD_FUNCTION, { deterministic: false }, (_row: unknown) => {
      if (guard.deadline !== 0 && Date.now() > guard.deadline) {
        guard.expired = true;
        throw new Error(GUARD_MESSAGE);
      }
      return 1;
    });
  }
  stmt(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.#cache.size > 500) this.#cache.clear();
      this.#cache.set(sql, s);
    }
    return s;
  }
  async all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.stmt(sql).all(...bind(params)) as T[];
  }
  async get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.stmt(sql).get(...bind(params)) as T | undefined;
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    const r = this.stmt(sql).run(...bind(params));
    return { changes: Number(r.changes) };
  }
  /**
   * All rows of a read, stopped by the row guard once `deadline` (`Date.now()` ms) has passed.
   * Answers `{ expired: true }` instead of rows when the guard stopped it; other errors are thrown.
   */
  allUntil(sql: string, params: readonly SqlValue[] | undefined, deadline: number): { rows: Row[] } | { expired: true } {
    this.guard.deadline = deadline;
    this.guard.expired = false;
    try {
      return { rows: this.stmt(sql).all(...bind(params)) as Row[] };
    } catch (e) {
      if (this.guard.expired) return { expired: true };
      throw e;
    } finally {
      this.guard.deadline = 0;
      this.guard.expired = false;
    }
  }
}

/** Open a connection with Basalt's pragmas (WAL, `synchronous = FULL`, 32 MiB cache) and the row guard. */
export function openConnection(path: string, opts: ConnectionOptions): Connection {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs}`);
  if (opts.readOnly) {
    // The writer set WAL mode (it is persistent in the file); a reader only reads.
    db.exec('PRAGMA query_only = ON');
  } else {
    db.exec('PRAGMA journal_mode = WAL');
    // FULL: a commit is on disk before we acknowledge it (issue: no acknowledged write is lost on SIGKILL
    // is already true with NORMAL in WAL mode; FULL also covers power loss).
    db.exec('PRAGMA synchronous = FULL');
  }
  db.exec('PRAGMA foreign_keys = ON');
  // 32 MiB page cache per connection (SQLite's default is 2 MiB): a 10,000-row table with text
  // bodies no longer fits the default, and every miss is a read system call.
  db.exec('PRAGMA cache_size = -32000');
  db.exec('PRAGMA temp_store = MEMORY');
  return new Connection(db);
}
