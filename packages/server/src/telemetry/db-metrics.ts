/** Timing of every database call, as a transparent {@link Database} wrapper. */
import type { Database, Executor, Row, SqlValue } from '../db/index.ts';
import type { DbOperation, Metrics } from './metrics-registry.ts';

/**
 * Wrap `db` so every `all`, `get`, `run` and `transaction` (and every call on the executor a
 * transaction hands out) is timed into `metrics`, labelled with the dialect. `dialect`, `description`
 * and `close` pass through. Overhead: two `performance.now()` calls and one histogram update per call;
 * the wrapped call's own promise is returned.
 *
 * @example
 * const db = instrumentDatabase(await openDatabase(target), metrics);
 */
export function instrumentDatabase(db: Database, metrics: Metrics): Database {
  const dialect = db.dialect.name;

  function timed<T>(op: DbOperation, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const done = () => metrics.observeDb(op, dialect, (performance.now() - start) / 1e3);
    let p: Promise<T>;
    try {
      p = run();
    } catch (e) {
      done();
      return Promise.reject(e);
    }
    // Observe on settle without changing what the caller sees (the rejection stays theirs to handle).
    p.then(done, done);
    return p;
  }

  function wrap(ex: Executor): Executor {
    return {
      all: <T extends Row = Row>(sql: string, params?: readonly SqlValue[]) => timed('all', () => ex.all<T>(sql, params)),
      get: <T extends Row = Row>(sql: string, params?: readonly SqlValue[]) => timed('get', () => ex.get<T>(sql, params)),
      run: (sql: string, params?: readonly SqlValue[]) => timed('run', () => ex.run(sql, params)),
    };
  }

  const direct = wrap(db);
  return {
    ...direct,
    get dialect() { return db.dialect; },
    get description() { return db.description; },
    transaction: <T>(fn: (tx: Executor) => Promise<T>) => timed('transaction', () => db.transaction((tx) => fn(wrap(tx)))),
    close: () => db.close(),
  };
}
