/**
 * DDL planning: the statements that create a collection's table, or move it from one definition to
 * another, on either dialect. Safe by construction: identifiers are validated names, quoted; no value
 * is ever inlined except the fixed zero defaults.
 */
import { createHash } from 'node:crypto';
import type { Dialect } from '../db/index.ts';
import { storageShape, type Collection, type Field } from './collection-model.ts';
import { authEmailIndex, isAuthEmailField } from './auth-email-index.ts';

/** One step of a schema change: a statement, or a value conversion done row by row. */
export type DdlStep =
  | { kind: 'sql'; sql: string }
  | { kind: 'convert'; table: string; column: string; target: string; convert: (value: unknown) => unknown; json: boolean };

function columnDef(d: Dialect, f: Field): string {
  const q = d.quoteIdent(f.name);
  if (f.name === 'id') return `${q} TEXT PRIMARY KEY NOT NULL`;
  const shape = storageShape(f);
  const type = d.columnType(shape.kind);
  // JSON values may be SQL NULL (json null); every other column holds a zero value instead of NULL.
  if (shape.kind === 'json' && !shape.multi) return `${q} ${type} DEFAULT NULL`;
  return `${q} ${type} NOT NULL DEFAULT ${d.zeroDefault(shape.kind, shape.multi)}`;
}

function hashName(prefix: string, ...parts: string[]): string {
  return `${prefix}_${createHash('sha1').update(parts.join('\u0000')).digest('hex').slice(0, 20)}`;
}

/** The database-level index statements for a collection (declared indexes and `unique` fields). */
export function indexStatements(d: Dialect, c: Collection): { name: string; sql: string }[] {
  const out: { name: string; sql: string }[] = [];
  const table = d.quoteIdent(c.name);
  for (const idx of c.indexes) {
    const name = hashName('bidx', c.id, idx.name);
    const cols = idx.columns.map((col) => (col.startsWith('-') ? `${d.quoteIdent(col.slice(1))} DESC` : d.quoteIdent(col))).join(', ');
    out.push({ name, sql: `CREATE ${idx.unique ? 'UNIQUE ' : ''}INDEX ${d.quoteIdent(name)} ON ${table} (${cols})` });
  }
  for (const f of c.fields) {
    if (!f.unique || f.name === 'id') continue;
    // An auth collection's email is unique regardless of case (auth-email-index.ts).
    if (isAuthEmailField(c, f)) {
      out.push(authEmailIndex(d, c, f));
      continue;
    }
    const name = hashName('buq', c.id, f.id);
    const shape = storageShape(f);
    // Zero values are "no value": many records may have none, so they are outside the unique index.
    const where = shape.kind === 'text' ? ` WHERE ${d.quoteIdent(f.name)} != ''` : '';
    out.push({ name, sql: `CREATE UNIQUE INDEX ${d.quoteIdent(name)} ON ${table} (${d.quoteIdent(f.name)})${where}` });
  }
  return out;
}

/** Statements that create a new collection's table and indexes. */
export function planCreate(d: Dialect, c: Collection): DdlStep[] {
  const cols = c.fields.map((f) => columnDef(d, f)).join(',\n  ');
  return [
    { kind: 'sql', sql: `CREATE TABLE ${d.quoteIdent(c.name)} (\n  ${cols}\n)` },
    ...indexStatements(d, c).map((i) => ({ kind: 'sql' as const, sql: i.sql })),
  ];
}

/** Statements that drop a collection's table (its indexes go with it). */
export function planDrop(d: Dialect, c: Collection): DdlStep[] {
  return [{ kind: 'sql', sql: `DROP TABLE ${d.quoteIdent(c.name)}` }];
}

/**
 * Statements that change `before` into `after` (same collection id). Order matters: indexes are
 * dropped first (SQLite cannot drop an indexed column) and recreated last; renames go through
 * temporary names so that swapping two names works.
 */
export function planUpdate(d: Dialect, before: Collection, after: Collection): DdlStep[] {
  const steps: DdlStep[] = [];
  const sql = (s: string) => steps.push({ kind: 'sql', sql: s });
  let table = d.quoteIdent(before.name);
  if (before.name !== after.name) {
    sql(`ALTER TABLE ${table} RENAME TO ${d.quoteIdent(after.name)}`);
    table = d.quoteIdent(after.name);
  }
  for (const i of indexStatements(d, before)) sql(`DROP INDEX IF EXISTS ${d.quoteIdent(i.name)}`);

  const afterById = new Map(after.fields.map((f) => [f.id, f]));
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  for (const f of before.fields) {
    if (!afterById.has(f.id)) sql(`ALTER TABLE ${table} DROP COLUMN ${d.quoteIdent(f.name)}`);
  }
  const renamed = after.fields.filter((f) => beforeById.has(f.id) && beforeById.get(f.id)!.name !== f.name);
  for (const f of renamed) sql(`ALTER TABLE ${table} RENAME COLUMN ${d.quoteIdent(beforeById.get(f.id)!.name)} TO ${d.quoteIdent(`__tmp_${f.id}`)}`);
  for (const f of renamed) sql(`ALTER TABLE ${table} RENAME COLUMN ${d.quoteIdent(`__tmp_${f.id}`)} TO ${d.quoteIdent(f.name)}`);

  for (const f of after.fields) {
    const prior = beforeById.get(f.id);
    if (!prior) {
      sql(`ALTER TABLE ${table} ADD COLUMN ${columnDef(d, f)}`);
      continue;
    }
    const from = storageShape(prior);
    const to = storageShape(f);
    if (from.kind !== to.kind || from.multi !== to.multi) {
      // Single ↔ multi (select/relation maxSelect changed): rebuild the column through a temporary one.
      const tmp = `__new_${f.id}`;
      sql(`ALTER TABLE ${table} ADD COLUMN ${columnDef(d, { ...f, name: tmp })}`);
      steps.push({ kind: 'convert', table: after.name, column: f.name, target: tmp, json: to.kind === 'json', convert: to.multi ? toMulti : toSingle });
      sql(`ALTER TABLE ${table} DROP COLUMN ${d.quoteIdent(f.name)}`);
      sql(`ALTER TABLE ${table} RENAME COLUMN ${d.quoteIdent(tmp)} TO ${d.quoteIdent(f.name)}`);
    }
  }
  for (const i of indexStatements(d, after)) sql(i.sql);
  return steps;
}

function toMulti(v: unknown): unknown {
  return typeof v === 'string' && v !== '' ? [v] : [];
}

function toSingle(v: unknown): unknown {
  const arr = typeof v === 'string' ? safeParse(v) : v;
  return Array.isArray(arr) && arr.length ? String(arr[arr.length - 1]) : '';
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
