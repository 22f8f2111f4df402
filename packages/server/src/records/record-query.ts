/**
 * List-query pieces: `sort` parsing, page/perPage normalisation, and keyset cursors.
 */
import { BasaltError } from '../errors/index.ts';
import type { Dialect, SqlValue } from '../db/index.ts';
import { storageShape, type Collection, type Field } from '../schema/index.ts';
import { isSecretField } from './record-codec.ts';
import { hasNul } from '../tools/index.ts';

/** Default and maximum page sizes (PocketBase's). */
export const DEFAULT_PER_PAGE = 30;
export const MAX_PER_PAGE = 1000;
/** Longest `sort` accepted. */
const MAX_SORT_ITEMS = 8;

/** One ORDER BY term. */
export interface SortTerm {
  field: Field | 'random';
  desc: boolean;
}

/** Parse `-created,title` against a collection; `id` is appended as the final tiebreaker. */
export function parseSort(c: Collection, sort: string | undefined, allowHidden: boolean): SortTerm[] {
  const terms: SortTerm[] = [];
  if (sort && sort.trim()) {
    const parts = sort.split(',').map((s) => s.trim()).filter(Boolean);
    if (parts.length > MAX_SORT_ITEMS) throw new BasaltError('sort_invalid', { message: `At most ${MAX_SORT_ITEMS} sort fields.` });
    for (const part of parts) {
      const m = /^([-+]?)(@random|@rowid|[a-zA-Z_][a-zA-Z0-9_]*)$/.exec(part);
      if (!m) throw new BasaltError('sort_invalid', { message: `Invalid sort field "${part.slice(0, 64)}".` });
      if (m[2] === '@random') {
        terms.push({ field: 'random', desc: false });
        continue;
      }
      const name = m[2] === '@rowid' ? 'id' : m[2];
      const field = c.fields.find((f) => f.name === name);
      const isPrivate = field && (field.hidden || (c.type === 'auth' && field.name === 'email'));
      if (!field || isSecretField(field) || (isPrivate && !allowHidden)) throw new BasaltError('sort_invalid', { message: `Unknown sort field "${name}".` });
      if (field.type === 'secret') throw new BasaltError('sort_invalid', { message: `Cannot sort by the secret field "${name}" (its stored values are encrypted).` });
      const shape = storageShape(field);
      if (shape.kind === 'json') throw new BasaltError('sort_invalid', { message: `Cannot sort by the ${shape.multi ? 'multi-value' : 'json'} field "${name}".` });
      terms.push({ field, desc: m[1] === '-' });
    }
  }
  if (!terms.some((t) => t.field !== 'random' && t.field.name === 'id')) {
    terms.push({ field: c.fields.find((f) => f.name === 'id')!, desc: terms.length > 0 && terms[terms.length - 1].desc });
  }
  return terms;
}

/** ORDER BY clause for sort terms. */
export function orderBy(d: Dialect, alias: string, terms: SortTerm[]): string {
  return terms.map((t) => (t.field === 'random' ? 'RANDOM()' : `${alias}.${d.quoteIdent(t.field.name)} ${t.desc ? 'DESC' : 'ASC'}`)).join(', ');
}

/** Parse a positive integer query parameter; absent or malformed means the default. */
export function intParam(v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) return dflt;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

/**
 * Keyset cursors: the last row's sort values, base64url-encoded with the sort they belong to.
 * Values are type-checked on decode, so a tampered cursor is a 400, never a database type error.
 */
export function encodeCursor(terms: SortTerm[], row: Record<string, unknown>): string {
  const values = terms.map((t) => (t.field === 'random' ? null : row[(t.field as Field).name]));
  return Buffer.from(JSON.stringify({ s: sortSignature(terms), v: values })).toString('base64url');
}

function sortSignature(terms: SortTerm[]): string {
  return terms.map((t) => (t.field === 'random' ? '@random' : `${t.desc ? '-' : ''}${t.field.name}`)).join(',');
}

/** Decode a cursor and build the "after this row" condition. */
export function cursorCondition(d: Dialect, alias: string, terms: SortTerm[], cursor: string): { sql: string; params: SqlValue[] } {
  if (terms.some((t) => t.field === 'random')) throw new BasaltError('cursor_invalid', { message: 'A cursor cannot be used with @random sorting.' });
  let decoded: { s?: unknown; v?: unknown };
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof decoded;
  } catch {
    throw new BasaltError('cursor_invalid');
  }
  if (!decoded || decoded.s !== sortSignature(terms) || !Array.isArray(decoded.v) || decoded.v.length !== terms.length) {
    throw new BasaltError('cursor_invalid', { message: 'The cursor does not belong to this sort.' });
  }
  const values = decoded.v.map((v, i) => {
    const kind = storageShape(terms[i].field as Field).kind;
    // A NUL never comes from a stored value (PostgreSQL text cannot hold one): a tampered cursor.
    const ok = (kind === 'number' && typeof v === 'number') || (kind === 'bool' && typeof v === 'boolean') || (kind === 'text' && typeof v === 'string' && !hasNul(v));
    if (!ok) throw new BasaltError('cursor_invalid');
    return v as SqlValue;
  });
  // (a, b, id) after (va, vb, vid) with per-term direction: a OR-chain of equal prefixes.
  const ors: string[] = [];
  const params: SqlValue[] = [];
  for (let i = 0; i < terms.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      ands.push(`${alias}.${d.quoteIdent((terms[j].field as Field).name)} = ?`);
      params.push(values[j]);
    }
    ands.push(`${alias}.${d.quoteIdent((terms[i].field as Field).name)} ${terms[i].desc ? '<' : '>'} ?`);
    params.push(values[i]);
    ors.push(`(${ands.join(' AND ')})`);
  }
  return { sql: `(${ors.join(' OR ')})`, params };
}
