import type { ColumnKind, Dialect, SqlValue } from '../db-types.ts';

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
  jsonParam: (placeholder) => placeholder,
  nativeBoolean: false,
  // One writer at a time already: transactions are serialised by BEGIN IMMEDIATE.
  changeLogLock: '',
  isUniqueViolation(e: unknown): boolean {
    const err = e as { code?: string; errcode?: number; message?: string };
    return (err?.errcode === 2067 || err?.errcode === 1555) || /UNIQUE constraint failed/.test(String(err?.message ?? ''));
  },
};
