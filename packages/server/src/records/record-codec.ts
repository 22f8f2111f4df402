/**
 * Conversions between stored rows and API records. Stored: bools as 0/1 (SQLite) or booleans, JSON as
 * text (SQLite) or parsed (PostgreSQL JSONB). API: booleans, parsed JSON, arrays for multi fields.
 */
import { isMultiValued, storageShape, type Collection, type Field } from '../schema/index.ts';

/** A record as the API shows it (before hidden-field stripping and expansion). */
export type ApiRecord = Record<string, unknown> & { id: string; collectionId: string; collectionName: string };

/** Fields that are never part of a record's JSON, for anyone (secrets). */
export function isSecretField(field: Field): boolean {
  return field.type === 'password' || (field.system === true && field.name === 'tokenKey');
}

/** Stored JSON (text on SQLite, parsed on PostgreSQL) → value; unparsable text reads as null. */
export function decodeJson(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v);
  } catch {
    return null;
  }
}

/** A stored column value → API value. */
export function decodeValue(field: Field, v: unknown): unknown {
  const shape = storageShape(field);
  switch (shape.kind) {
    case 'bool': return v === true || v === 1 || v === 1n || v === '1';
    case 'number': return typeof v === 'number' ? v : Number(v ?? 0);
    case 'json': {
      const parsed = decodeJson(v);
      if (shape.multi) return Array.isArray(parsed) ? parsed.map(String) : [];
      return parsed;
    }
    default: return v == null ? '' : String(v);
  }
}

/** An API value (already validated) → bound parameter. JSON is sent as text on both dialects. */
export function encodeValue(field: Field, v: unknown): string | number | boolean | null {
  const shape = storageShape(field);
  switch (shape.kind) {
    case 'bool': return v === true;
    case 'number': return typeof v === 'number' ? v : 0;
    case 'json': return v === null || v === undefined ? (shape.multi ? '[]' : null) : JSON.stringify(v);
    default: return v == null ? '' : String(v);
  }
}

type Decoder = { name: string; decode: (v: unknown) => unknown };
const decoderCache = new WeakMap<Collection, Decoder[]>();

/** Per-collection decoders, built once per definition (compile once, run many). */
function decoders(c: Collection): Decoder[] {
  let list = decoderCache.get(c);
  if (!list) {
    list = c.fields.filter((f) => !isSecretField(f)).map((f) => ({ name: f.name, decode: (v: unknown) => decodeValue(f, v) }));
    decoderCache.set(c, list);
  }
  return list;
}

/** A stored row → API record, including hidden fields but never secrets. */
export function rowToRecord(c: Collection, row: Record<string, unknown>): ApiRecord {
  const out: Record<string, unknown> = { collectionId: c.id, collectionName: c.name };
  for (const d of decoders(c)) out[d.name] = d.decode(row[d.name]);
  return out as ApiRecord;
}

/** The record with hidden fields removed (for non-superusers). */
export function stripHidden(c: Collection, r: ApiRecord): ApiRecord {
  if (!c.fields.some((f) => f.hidden)) return r;
  const out = { ...r };
  for (const f of c.fields) if (f.hidden) delete out[f.name];
  return out;
}

const columnCache = new WeakMap<Collection, Map<string, string>>();

/** Column list for SELECTs of a collection (quoted), cached per collection definition. */
export function selectColumns(c: Collection, quote: (s: string) => string, alias?: string): string {
  let perAlias = columnCache.get(c);
  if (!perAlias) columnCache.set(c, (perAlias = new Map()));
  const key = alias ?? '';
  let cols = perAlias.get(key);
  if (cols === undefined) {
    const prefix = alias ? `${alias}.` : '';
    cols = c.fields.map((f) => `${prefix}${quote(f.name)}`).join(', ');
    perAlias.set(key, cols);
  }
  return cols;
}

export { isMultiValued };
