import type { ColumnKind, Dialect, SqlValue } from '../db-types.ts';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

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
  jsonValue(expr: string, path: readonly string[], as: 'text' | 'number' | 'bool' | 'isnull'): { sql: string; params: SqlValue[] } {
    const p = `{${path.map((s) => `"${s.replaceAll('"', '').replaceAll('\\', '')}"`).join(',')}}`;
    const at = `(${expr} #> CAST(? AS TEXT[]))`;
    const atText = `(${expr} #>> CAST(? AS TEXT[]))`;
    switch (as) {
      case 'text':
        return { sql: `(CASE WHEN jsonb_typeof${at} IN ('string', 'number', 'boolean') THEN ${atText} END)`, params: [p, p] };
      case 'number':
        return { sql: `(CASE WHEN jsonb_typeof${at} = 'number' THEN CAST(${atText} AS DOUBLE PRECISION) END)`, params: [p, p] };
      case 'bool':
        return { sql: `(CASE WHEN jsonb_typeof${at} = 'boolean' THEN CAST(${atText} AS BOOLEAN) END)`, params: [p, p] };
      case 'isnull':
        return { sql: `(COALESCE(jsonb_typeof${at}, 'null') = 'null')`, params: [p] };
    }
  },
  // ASCII-only case folding (translate) instead of ILIKE, so PostgreSQL matches exactly what SQLite matches.
  ilike: (value, pattern) => `(translate(${value}, '${UPPER}', '${LOWER}') LIKE translate(${pattern}, '${UPPER}', '${LOWER}') ESCAPE '\\')`,
  lowerAscii: (expr) => `translate(${expr}, '${UPPER}', '${LOWER}')`,
  collateBinary: (expr) => `(${expr}) COLLATE "C"`,
  nullSafeEq: (a, b) => `(${a} IS NOT DISTINCT FROM ${b})`,
  typedParam: (kind) => (kind === 'text' ? 'CAST(? AS TEXT)' : kind === 'number' ? 'CAST(? AS DOUBLE PRECISION)' : 'CAST(? AS BOOLEAN)'),
  jsonParam: (placeholder) => `${placeholder}::jsonb`,
  nativeBoolean: true,
  // Sequence values are handed out at insert time but become visible at commit; a transaction-scoped
  // advisory lock taken right before the append makes commit order equal sequence order, so a
  // consumer reading `seq > after` never skips an event that commits later.
  changeLogLock: 'SELECT pg_advisory_xact_lock(7420421)',
  bootstrapLock: 'SELECT pg_advisory_xact_lock(7420420)',
  rowLockSuffix: ' FOR UPDATE',
  rowUpdateLockSuffix: ' FOR NO KEY UPDATE',
  rowKeyShareSuffix: ' FOR KEY SHARE',
  // 40P01 deadlock_detected, 40001 serialization_failure: PostgreSQL rolled the transaction back.
  isTransientConflict: (e: unknown): boolean => ['40P01', '40001'].includes((e as { code?: string })?.code ?? ''),
  // statement_timeout cancels on the server; nothing to evaluate per row.
  rowGuard: () => 'TRUE',
  isUniqueViolation(e: unknown): boolean {
    return (e as { code?: string })?.code === '23505';
  },
};
