import type { ColumnKind, Dialect, SqlValue } from '../db-types.ts';

/** PostgreSQL: JSONB, native booleans, ILIKE for case-insensitive matching. */
export const postgresDialect: Dialect = {
  name: 'postgres',
  quoteIdent: (name) => `"${name.replaceAll('"', '""')}"`,
  columnType(kind: ColumnKind): string {
    switch (kind) {
      case 'text': return 'TEXT';
      case 'number': return 'DOUBLE PRECISION';
      case 'bool': return 'BOOLEAN';
      case 'json': return 'JSONB';
    }
  },
  zeroDefault(kind: ColumnKind, multi = false): string {
    switch (kind) {
      case 'text': return `''`;
      case 'number': return '0';
      case 'bool': return 'FALSE';
      case 'json': return multi ? `'[]'::jsonb` : 'NULL';
    }
  },
  serialPrimaryKey: 'BIGSERIAL PRIMARY KEY',
  likeOperator: (negate) => (negate ? `NOT ILIKE ? ESCAPE '\\'` : `ILIKE ? ESCAPE '\\'`),
  jsonEach: (expr, alias) =>
    `jsonb_array_elements_text(CASE WHEN jsonb_typeof(${expr}) = 'array' THEN ${expr} ELSE '[]'::jsonb END) AS ${alias}(value)`,
  jsonArrayLength: (expr) => `(CASE WHEN jsonb_typeof(${expr}) = 'array' THEN jsonb_array_length(${expr}) ELSE 0 END)`,
  jsonExtractText(expr: string, path: readonly string[]): { sql: string; params: SqlValue[] } {
    return { sql: `(${expr} #>> ?::text[])`, params: [`{${path.map((p) => `"${p.replaceAll('"', '').replaceAll('\\', '')}"`).join(',')}}`] };
  },
  jsonParam: (placeholder) => `${placeholder}::jsonb`,
  nativeBoolean: true,
  // Sequence values are handed out at insert time but become visible at commit; a transaction-scoped
  // advisory lock taken right before the append makes commit order equal sequence order, so a
  // consumer reading `seq > after` never skips an event that commits later.
  changeLogLock: 'SELECT pg_advisory_xact_lock(7420421)',
  isUniqueViolation(e: unknown): boolean {
    return (e as { code?: string })?.code === '23505';
  },
};
