/**
 * Storage: one interface over SQLite (`node:sqlite`, the embedded default) and PostgreSQL, the change
 * log, and Basalt's system tables. Dialect differences live in `Dialect` (ARCHITECTURE invariant 4).
 */
import type { Database } from './db-types.ts';
import { openSqlite } from './sqlite/sqlite-database.ts';
import { openPostgres } from './postgres/postgres-database.ts';
import { ensureSystemTables } from './system-tables.ts';

export type { Database, Dialect, Executor, Row, Sql, SqlValue, ColumnKind } from './db-types.ts';
export { DEFAULT_QUERY_TIMEOUT_MS } from './db-types.ts';
export { appendChanges, readChanges, lastChangeSeq, type ChangeEvent, type ChangeOperation, type NewChange } from './changes.ts';
export { openSqlite } from './sqlite/sqlite-database.ts';
export { openPostgres, numberPlaceholders, SAFETY_NET_TIMEOUT_MS } from './postgres/postgres-database.ts';
export { ensureSystemTables } from './system-tables.ts';

/** Where to store data: a PostgreSQL URL, or an SQLite file path. */
export interface DatabaseTarget {
  /** `postgres://…`; when absent, SQLite at `sqlitePath`. */
  url?: string;
  /** SQLite file (or `:memory:`). */
  sqlitePath: string;
  /** PostgreSQL schema (tests use one each). */
  schema?: string;
  /** Limit of `Database.readBounded`, ms (config `queryTimeoutMs`). */
  queryTimeoutMs?: number;
}

/** Open the configured database and make sure the system tables exist. */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  const db = target.url && /^postgres(ql)?:\/\//.test(target.url)
    ? await openPostgres({ url: target.url, schema: target.schema, queryTimeoutMs: target.queryTimeoutMs })
    : openSqlite({ path: target.sqlitePath, queryTimeoutMs: target.queryTimeoutMs });
  await ensureSystemTables(db);
  return db;
}
