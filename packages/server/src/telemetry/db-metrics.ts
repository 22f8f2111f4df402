/** Timing of every database call, as a transparent {@link Database} wrapper. */
import type { Database, Executor, Row, SqlValue } from '../db/index.ts';
import type { DbOperation, Metrics } from './metrics-registry.ts';

/**
 * Wrap `db` so every `all`, `get`, `run`, `readBounded` (timed as `all`) and `transaction` (and every call on the executor a
 * transaction hands out) is timed into `metrics`, labelled with the dialect. `dialect`, `description`
 * and `close` pass through. Overhead: two `performance.now()` calls and one histogram update per call;
 * the wrapped call's own promise is returned.
 *
 * @example
 * const db = instrumentDatabase(await openDatabase(target), metrics);
 */
export function instrumentDatabase(db: Database, metrics: Metrics): Database {
  const dialect = db.dialect.name;

  // Awaiting inside the wrapper (instead of chaining handlers onto the caller's promise) keeps the
  // per-call cost to one async frame; a rejection still reaches the caller unchanged.
  function wrap(ex: Executor): Executor {
    return {
      async all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
        const start = performance.now();
        try {
          return await ex.all<T>(sql, params);
        } finally {
          metrics.observeDb('all', dialect, (performance.now() - start) / 1e3);
        }
      },
      async get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
        const start = performance.now();
        try {
          return await ex.get<T>(sql, params);
        } finally {
          metrics.observeDb('get', dialect, (performance.now() - start) / 1e3);
        }
      },
      async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
        const start = performance.now();
        try {
          return await ex.run(sql, params);
        } finally {
          metrics.observeDb('run', dialect, (performance.now() - start) / 1e3);
        }
      },
    };
  }

  async function timedTransaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await db.transaction((tx) => fn(wrap(tx)));
    } finally {
      metrics.observeDb('transaction', dialect, (performance.now() - start) / 1e3);
    }
  }

  async function readBounded<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const start = performance.now();
    try {
      return await db.readBounded<T>(sql, params);
    } finally {
      metrics.observeDb('all', dialect, (performance.now() - start) / 1e3);
    }
  }

  const direct = wrap(db);
  return {
    ...direct,
    readBounded,
    get queryTimeoutMs() { return db.queryTimeoutMs; },
    get dialect() { return db.dialect; },
    get description() { return db.description; },
    transaction: timedTransaction,
    close: () => db.close(),
  };
}
