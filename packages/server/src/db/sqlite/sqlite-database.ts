import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database, Dialect, Executor, Row, SqlValue } from '../db-types.ts';
import { sqliteDialect } from './sqlite-dialect.ts';

/** Options for {@link openSqlite}. */
export interface SqliteOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** Busy timeout in ms for the rare case another process holds the write lock. */
  busyTimeoutMs?: number;
}

function toSqlite(v: SqlValue): SQLInputValue {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

const NO_PARAMS: SQLInputValue[] = [];

function bind(params: readonly SqlValue[] | undefined): SQLInputValue[] {
  if (!params || params.length === 0) return NO_PARAMS;
  // Copy only when a boolean needs converting; most parameter lists pass through as they are.
  for (let i = 0; i < params.length; i++) if (typeof params[i] === 'boolean') return params.map(toSqlite);
  return params as SQLInputValue[];
}

/** A tiny FIFO lock: SQLite has one writer, so write transactions take turns in-process. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return ready;
  }
}

/** Prepared statements are cached per connection: compile once, run many. */
class Connection implements Executor {
  readonly db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();
  constructor(db: DatabaseSync) {
    this.db = db;
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
}

class SqliteDatabase implements Database {
  readonly dialect: Dialect = sqliteDialect;
  readonly description: string;
  readonly #writer: Connection;
  /** Reads outside transactions use their own connection, so they never see uncommitted writes. */
  readonly #reader: Connection;
  readonly #writeLock = new Mutex();

  constructor(opts: SqliteOptions) {
    const busy = opts.busyTimeoutMs ?? 5000;
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    const open = () => {
      const db = new DatabaseSync(opts.path);
      db.exec(`PRAGMA busy_timeout = ${busy}`);
      db.exec('PRAGMA journal_mode = WAL');
      // FULL: a commit is on disk before we acknowledge it (issue: no acknowledged write is lost on SIGKILL
      // is already true with NORMAL in WAL mode; FULL also covers power loss).
      db.exec('PRAGMA synchronous = FULL');
      db.exec('PRAGMA foreign_keys = ON');
      // 32 MiB page cache per connection (SQLite's default is 2 MiB): a 10,000-row table with text
      // bodies no longer fits the default, and every miss is a read system call.
      db.exec('PRAGMA cache_size = -32000');
      db.exec('PRAGMA temp_store = MEMORY');
      return new Connection(db);
    };
    this.#writer = open();
    // An in-memory database is private to its connection, so there the reader is the writer.
    this.#reader = opts.path === ':memory:' ? this.#writer : open();
    this.description = `sqlite:${opts.path}`;
  }

  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    if (isReadOnly(sql)) return this.#reader.all<T>(sql, params);
    return this.transaction((tx) => tx.all<T>(sql, params));
  }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    if (isReadOnly(sql)) return this.#reader.get<T>(sql, params);
    return this.transaction((tx) => tx.get<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.transaction((tx) => tx.run(sql, params));
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const release = await this.#writeLock.lock();
    try {
      this.#writer.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#writer);
        this.#writer.db.exec('COMMIT');
        return result;
      } catch (e) {
        if (this.#writer.db.isTransaction) this.#writer.db.exec('ROLLBACK');
        throw e;
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const release = await this.#writeLock.lock();
    try {
      if (this.#reader !== this.#writer) this.#reader.db.close();
      this.#writer.db.close();
    } finally {
      release();
    }
  }
}

/**
 * `SELECT …` or `WITH …` (Basalt's SQL never starts with whitespace); no allocation, it runs per query.
 * Such statements run on the reader connection; data-changing CTEs (`WITH … INSERT`) belong in
 * `run()` or a transaction.
 */
function isReadOnly(sql: string): boolean {
  const c = sql.charCodeAt(0) | 0x20;
  if (c === 0x73) return (sql.charCodeAt(1) | 0x20) === 0x65 && (sql.charCodeAt(2) | 0x20) === 0x6c && (sql.charCodeAt(3) | 0x20) === 0x65 && (sql.charCodeAt(4) | 0x20) === 0x63 && (sql.charCodeAt(5) | 0x20) === 0x74; // select
  if (c === 0x77) return (sql.charCodeAt(1) | 0x20) === 0x69 && (sql.charCodeAt(2) | 0x20) === 0x74 && (sql.charCodeAt(3) | 0x20) === 0x68; // with
  return false;
}

/** Open (and create) an SQLite database in WAL mode. */
export function openSqlite(opts: SqliteOptions): Database {
  return new SqliteDatabase(opts);
}
