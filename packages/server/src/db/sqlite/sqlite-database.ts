import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { BasaltError } from '../../errors/index.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, type Database, type Dialect, type Executor, type Row, type SqlValue } from '../db-types.ts';
import { sqliteDialect } from './sqlite-dialect.ts';
import { openConnection, type Connection } from './sqlite-connection.ts';
import { SqliteReadPool } from './sqlite-read-pool.ts';

/** Options for {@link openSqlite}. */
export interface SqliteOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** Busy timeout in ms for the rare case another process holds the write lock. */
  busyTimeoutMs?: number;
  /** Limit of `readBounded`, ms (default {@link DEFAULT_QUERY_TIMEOUT_MS}). */
  queryTimeoutMs?: number;
  /** Worker threads for bounded reads (default: 2, or 1 on a one-core machine). */
  readWorkers?: number;
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

class SqliteDatabase implements Database {
  readonly dialect: Dialect = sqliteDialect;
  readonly description: string;
  readonly #writer: Connection;
  /** Reads outside transactions use their own connection, so they never see uncommitted writes. */
  readonly #reader: Connection;
  readonly #writeLock = new Mutex();
  readonly queryTimeoutMs: number;
  /** Bounded reads off the main thread; absent for `:memory:`, which no other connection can open. */
  readonly #pool: SqliteReadPool | undefined;

  constructor(opts: SqliteOptions) {
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    const memory = opts.path === ':memory:';
    if (!memory) mkdirSync(dirname(opts.path), { recursive: true });
    this.#writer = openConnection(opts.path, { busyTimeoutMs });
    // An in-memory database is private to its connection, so there the reader is the writer.
    this.#reader = memory ? this.#writer : openConnection(opts.path, { busyTimeoutMs });
    this.queryTimeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const workers = opts.readWorkers ?? Math.min(2, availableParallelism());
    this.#pool = memory ? undefined : new SqliteReadPool({ path: opts.path, busyTimeoutMs, timeoutMs: this.queryTimeoutMs, workers, maxQueue: 64 * workers });
    this.description = `sqlite:${opts.path}`;
  }

  readBounded<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    if (this.#pool) return this.#pool.read(sql, params) as Promise<T[]>;
    return this.#readHere<T>(sql, params);
  }

  /** `:memory:`: the main thread's reader, stopped by the row guard at the deadline. */
  async #readHere<T extends Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const r = this.#reader.allUntil(sql, params, Date.now() + this.queryTimeoutMs);
    if ('rows' in r) return r.rows as T[];
    throw new BasaltError('query_timeout');
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
    await this.#pool?.close();
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
