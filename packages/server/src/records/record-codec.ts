/**
 * Conversions between stored rows and API records. Stored: bools as 0/1 (SQLite) or booleans, JSON as
 * text (SQLite) or parsed (PostgreSQL JSONB). API: booleans, parsed JSON, arrays for multi fields.
 */
import { isMultiValued, storageShape, type Collection, type Field, type SecretField } from '../schema/index.ts';
import { BasaltError } from '../errors/index.ts';
import type { SecretBox } from '../secrets/index.ts';

/** A record as the API shows it (before hidden-field stripping and expansion). */
export type ApiRecord = Record<string, unknown> & { id: string; collectionId: string; collectionName: string };

/**
 * Fields that are never part of a record's JSON, for anyone (password hashes, token keys). Not the
 * `secret` field type, which is returned decrypted: see {@link isEncryptedField}.
 */
export function isSecretField(field: Field): boolean {
  return field.type === 'password' || (field.system === true && field.name === 'tokenKey');
}

/** A `secret` field: its values are stored sealed (encrypted) and returned decrypted. */
export function isEncryptedField(field: Field): field is SecretField {
  return field.type === 'secret';
}

/**
 * The associated data a secret value is sealed with: collection id, record id and field *id* (ids
 * survive renames), so a sealed value copied to another record, field or collection does not open.
 */
export function secretAad(c: Pick<Collection, 'id'>, recordId: string, field: Pick<Field, 'id'>): string {
  return `${c.id}/${recordId}/${field.id}`;
}

/** Seal a secret field's value for storage; `''` stays `''` (the zero value, so "empty" keeps working). */
export function sealSecret(box: SecretBox, c: Collection, recordId: string, field: Field, plaintext: string): string {
  return plaintext === '' ? '' : box.seal(plaintext, secretAad(c, recordId, field));
}

/** Open a stored secret field value; `secret_unreadable` when it was altered, moved, or its key is gone. */
export function openSecret(box: SecretBox, c: Collection, recordId: string, field: Field, stored: unknown): string {
  if (stored === null || stored === undefined || stored === '') return '';
  if (typeof stored !== 'string') throw new BasaltError('secret_unreadable');
  return box.open(stored, secretAad(c, recordId, field));
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
/** A collection's compiled decoding: per-field decoders, and its encrypted fields (usually none). */
type Codec = { decoders: Decoder[]; encrypted: SecretField[] };
const codecCache = new WeakMap<Collection, Codec>();

/** Per-collection decoders, built once per definition (compile once, run many). */
function codecOf(c: Collection): Codec {
  let codec = codecCache.get(c);
  if (!codec) {
    codec = {
      decoders: c.fields.filter((f) => !isSecretField(f)).map((f) => ({ name: f.name, decode: (v: unknown) => decodeValue(f, v) })),
      encrypted: c.fields.filter(isEncryptedField),
    };
    codecCache.set(c, codec);
  }
  return codec;
}

/** The collection's `secret` fields (cached per definition). */
export function encryptedFields(c: Collection): readonly SecretField[] {
  return codecOf(c).encrypted;
}

/**
 * A stored row → API record, including hidden fields but never password hashes or token keys.
 * With `box`, secret fields are decrypted (throws `secret_unreadable` when one does not open);
 * without it they keep their stored, sealed form (what the change log records).
 */
export function rowToRecord(c: Collection, row: Record<string, unknown>, box?: SecretBox): ApiRecord {
  const codec = codecOf(c);
  const out: Record<string, unknown> = { collectionId: c.id, collectionName: c.name };
  for (const d of codec.decoders) out[d.name] = d.decode(row[d.name]);
  // Collections without secret fields (the common case) stop at the length check.
  if (box && codec.encrypted.length) {
    const id = String(row.id);
    for (const f of codec.encrypted) out[f.name] = openSecret(box, c, id, f, row[f.name]);
  }
  return out as ApiRecord;
}

/**
 * A record in stored form (secret values sealed, e.g. the `data` of a change-log event) with its
 * secret fields decrypted, for consumers that show it to a principal allowed to view it.
 */
export function openRecordSecrets<T extends Record<string, unknown>>(c: Collection, record: T, box: SecretBox): T {
  const encrypted = codecOf(c).encrypted;
  if (!encrypted.length) return record;
  const out: Record<string, unknown> = { ...record };
  const id = String(record.id);
  for (const f of encrypted) if (f.name in out) out[f.name] = openSecret(box, c, id, f, out[f.name]);
  return out as T;
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
