import type { ColumnKind, Dialect, SqlValue } from '../db-types.ts';
import { sqliteRowGuard } from './sqlite-connection.ts';

/** SQLite: JSON as TEXT with the JSON1 functions, booleans as 0/1, LIKE is case-insensitive for ASCII. */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  quoteIdent: (name) => `"${name.replaceAll('"', '""')}"`,
  columnType(kind: ColumnKind): string {
    switch (kind) {
      case 'text': return 'TEXT';
      case 'number': return 'REAL';
      case 'bool': return 'BOOLEAN';
      case 'json': return 'JSON';
    }
  },
  zeroDefault(kind: ColumnKind, multi = false): string {
    switch (kind) {
      case 'text': return `''`;
      case 'number': return '0';
      case 'bool': return 'FALSE';
      case 'json': return multi ? `'[]'` : 'NULL';
    }
  },
  serialPrimaryKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  likeOperator: (negate) => (negate ? `NOT LIKE ? ESCAPE '\\'` : `LIKE ? ESCAPE '\\'`),
  jsonEach: (expr, alias) => `json_each(CASE WHEN json_valid(${expr}) AND json_type(${expr}) = 'array' THEN ${expr} ELSE '[]' END) AS ${alias}`,
  jsonArrayLength: (expr) => `(CASE WHEN json_valid(${expr}) AND json_type(${expr}) = 'array' THEN json_array_length(${expr}) ELSE 0 END)`,
  jsonExtractText(expr: string, path: readonly string[]): { sql: string; params: SqlValue[] } {
    const jsonPath = '$' + path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `."${p.replaceAll('"', '')}"`)).join('');
    return { sql: `(CASE WHEN json_valid(${expr}) THEN json_extract(${expr}, ?) END)`, params: [jsonPath] };
  },
  jsonValue(expr: string, path: readonly string[], as: 'text' | 'number' | 'bool' | 'isnull'): { sql: string; params: SqlValue[] } {
    const p = '$' + path.map((s) => (/^\d+$/.test(s) ? `[${s}]` : `."${s.replaceAll('"', '')}"`)).join('');
    switch (as) {
      case 'text':
        // `->` keeps a number's JSON text (`0.1`, `1.5e-7`), as PostgreSQL's `#>>` does for plain numbers.
        return {
          sql: `(CASE WHEN json_valid(${expr}) THEN (CASE json_type(${expr}, ?) WHEN 'text' THEN json_extract(${expr}, ?) WHEN 'integer' THEN (${expr} -> ?) WHEN 'real' THEN (${expr} -> ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END) END)`,
          params: [p, p, p, p],
        };
      case 'number':
        return { sql: `(CASE WHEN json_valid(${expr}) AND json_type(${expr}, ?) IN ('integer', 'real') THEN json_extract(${expr}, ?) END)`, params: [p, p] };
      case 'bool':
        return { sql: `(CASE WHEN json_valid(${expr}) THEN (CASE json_type(${expr}, ?) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END) END)`, params: [p] };
      case 'isnull':
        return { sql: `(CASE WHEN json_valid(${expr}) THEN COALESCE(json_type(${expr}, ?), 'null') = 'null' ELSE 1 END)`, params: [p] };
    }
  },
  // SQLite's LIKE folds ASCII letters only (no ICU), which is the behaviour every dialect copies.
  ilike: (value, pattern) => `(${value} LIKE ${pattern} ESCAPE '\\')`,
  lowerAscii: (expr) => `lower(${expr})`,
  collateBinary: (expr) => expr,
  nullSafeEq: (a, b) => `(${a} IS ${b})`,
  typedParam: (kind) => (kind === 'text' ? 'CAST(? AS TEXT)' : kind === 'number' ? 'CAST(? AS REAL)' : '?'),
  jsonParam: (placeholder) => placeholder,
  nativeBoolean: false,
  // One writer at a time already: transactions are serialised by BEGIN IMMEDIATE.
  changeLogLock: '',
  bootstrapLock: '',
  rowLockSuffix: '',
  rowUpdateLockSuffix: '',
  rowKeyShareSuffix: '',
  isTransientConflict: () => false,
  // A deadline check inside the join loop: node:sqlite cannot interrupt a statement otherwise.
  rowGuard: sqliteRowGuard,
  isUniqueViolation(e: unknown): boolean {
    const err = e as { code?: string; errcode?: number; message?: string };
    return (err?.errcode === 2067 || err?.errcode === 1555) || /UNIQUE constraint failed/.test(String(err?.message ?? ''));
  },
};
