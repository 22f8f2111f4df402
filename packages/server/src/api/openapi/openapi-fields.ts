/**
 * Field → JSON Schema (OpenAPI 3.1 dialect) for the three shapes a record takes on the wire:
 * what the server returns, what a create accepts, what an update accepts.
 */
import type { Collection, Field } from '../../schema/collection-model.ts';
import { DEFAULT_SECRET_MAX, isMultiValued } from '../../schema/collection-model.ts';

/** A JSON Schema object (OpenAPI 3.1 uses JSON Schema 2020-12). */
export type JsonSchema = Record<string, unknown>;

/** Default pattern of record ids a client may supply (PocketBase's default id field). */
export const DEFAULT_ID_PATTERN = '^[a-z0-9]{15}$';

/** Example of Basalt's wire date format. */
const DATE_EXAMPLE = '2024-01-02 03:04:05.678Z';

/**
 * A non-required field's zero value is the empty string, which formats and constraints (`email`,
 * `minLength`, `pattern`) would reject; PocketBase only checks them on non-empty values.
 */
function orEmptyString(schema: JsonSchema, required: boolean): JsonSchema {
  if (required) return schema;
  const { description, readOnly, writeOnly, ...rest } = schema;
  const out: JsonSchema = { anyOf: [rest, { type: 'string', const: '' }] };
  if (description !== undefined) out.description = description;
  if (readOnly !== undefined) out.readOnly = readOnly;
  if (writeOnly !== undefined) out.writeOnly = writeOnly;
  return out;
}

/** Is this the record id field (PocketBase keeps it in `fields` as a system text primary key)? */
export function isIdField(field: Field): boolean {
  return field.name === 'id' || (field.type === 'text' && field.primaryKey === true);
}

/**
 * The schema of a record id: the id field's own pattern and length when the collection defines one,
 * PocketBase's default (`^[a-z0-9]{15}$`) otherwise.
 */
export function idSchema(collection: Collection): JsonSchema {
  const f = collection.fields.find(isIdField);
  if (!f || f.type !== 'text' || !f.pattern) return { type: 'string', pattern: DEFAULT_ID_PATTERN };
  const s: JsonSchema = { type: 'string', pattern: f.pattern };
  if (f.min && f.min > 0) s.minLength = f.min;
  if (f.max && f.max > 0) s.maxLength = f.max;
  return s;
}

/** Lookup used to point relation fields (and `expand`) at the referenced collection's record schema. */
export type RecordRefResolver = (collectionId: string) => { ref: string; name: string } | undefined;

/**
 * The schema of one field's value (the same for responses and request bodies; read-only and
 * write-only fields are marked). `required` on a field means the value must be non-empty.
 */
export function fieldValueSchema(field: Field, resolve: RecordRefResolver): JsonSchema {
  const schema = valueSchema(field, resolve);
  if (!field.readonly) return schema;
  // Superusers may still write it, so it is not `readOnly` in the OpenAPI sense; say so instead.
  const note = 'Read-only except for superusers.';
  return { ...schema, description: schema.description ? `${String(schema.description)} ${note}` : note };
}

function valueSchema(field: Field, resolve: RecordRefResolver): JsonSchema {
  const required = field.required === true;
  switch (field.type) {
    case 'text': {
      const s: JsonSchema = { type: 'string' };
      if (field.min && field.min > 0) s.minLength = field.min;
      if (field.max && field.max > 0) s.maxLength = field.max;
      if (field.pattern) s.pattern = field.pattern;
      const constrained = s.minLength !== undefined || s.pattern !== undefined;
      return constrained ? orEmptyString(s, required) : (required ? { ...s, minLength: 1 } : s);
    }
    case 'number': {
      const s: JsonSchema = { type: field.onlyInt ? 'integer' : 'number' };
      if (typeof field.min === 'number') s.minimum = field.min;
      if (typeof field.max === 'number') s.maximum = field.max;
      if (required) s.description = 'Required: must be non-zero.';
      return s;
    }
    case 'bool':
      return required ? { type: 'boolean', description: 'Required: must be true.' } : { type: 'boolean' };
    case 'email':
    case 'url': {
      const s: JsonSchema = { type: 'string', format: field.type === 'email' ? 'email' : 'uri' };
      const notes: string[] = [];
      if (field.onlyDomains?.length) notes.push(`Allowed domains: ${field.onlyDomains.join(', ')}.`);
      if (field.exceptDomains?.length) notes.push(`Rejected domains: ${field.exceptDomains.join(', ')}.`);
      if (notes.length) s.description = notes.join(' ');
      return orEmptyString(s, required);
    }
    case 'date': {
      const notes = [`UTC timestamp, returned as \`${DATE_EXAMPLE}\`; ISO 8601 is accepted on input.`];
      if (field.min) notes.push(`Not before ${field.min}.`);
      if (field.max) notes.push(`Not after ${field.max}.`);
      return orEmptyString({ type: 'string', format: 'date-time', examples: [DATE_EXAMPLE], description: notes.join(' ') }, required);
    }
    case 'autodate': {
      const when = [field.onCreate ? 'on create' : '', field.onUpdate ? 'on update' : ''].filter(Boolean).join(' and ');
      return { type: 'string', format: 'date-time', examples: [DATE_EXAMPLE], readOnly: true, description: `Set by the server${when ? ` ${when}` : ''}.` };
    }
    case 'select': {
      const values = [...field.values];
      if (isMultiValued(field)) {
        const s: JsonSchema = { type: 'array', items: { type: 'string', enum: values }, uniqueItems: true, maxItems: field.maxSelect };
        if (required) s.minItems = 1;
        return s;
      }
      return { type: 'string', enum: required ? values : [...values, ''] };
    }
    case 'json': {
      const s: JsonSchema = { description: 'Any JSON value.' };
      if (field.maxSize && field.maxSize > 0) s.description = `Any JSON value, at most ${field.maxSize} bytes of JSON text.`;
      return s;
    }
    case 'relation': {
      const target = resolve(field.collectionId);
      const about = `Id of a \`${target?.name ?? field.collectionId}\` record.`;
      const id: JsonSchema = { type: 'string', description: about };
      if (isMultiValued(field)) {
        const s: JsonSchema = { type: 'array', items: { type: 'string' }, uniqueItems: true, maxItems: field.maxSelect, description: `Ids of \`${target?.name ?? field.collectionId}\` records.` };
        const min = Math.max(field.minSelect ?? 0, required ? 1 : 0);
        if (min > 0) s.minItems = min;
        return s;
      }
      return required ? { ...id, minLength: 1 } : id;
    }
    case 'password': {
      const s: JsonSchema = { type: 'string', writeOnly: true, format: 'password' };
      if (field.min && field.min > 0) s.minLength = field.min;
      if (field.max && field.max > 0) s.maxLength = field.max;
      return s;
    }
    case 'secret': {
      // Readable like text (decrypted for whoever may view the record); encrypted only at rest.
      const s: JsonSchema = { type: 'string', maxLength: field.max || DEFAULT_SECRET_MAX, description: 'Encrypted at rest; cannot be used in filter, sort or rules.' };
      return required ? { ...s, minLength: 1 } : s;
    }
  }
  // A field type this generator does not know yet: say nothing rather than something wrong.
  return {};
}

/** Fields a client can write: everything but the id (handled apart), autodates and system-managed auth secrets. */
export function isWritable(field: Field): boolean {
  if (isIdField(field) || field.type === 'autodate') return false;
  // tokenKey is a server-managed secret in PocketBase's auth collections.
  if (field.name === 'tokenKey' && field.system) return false;
  return true;
}

/** Fields the server returns to clients: hidden and password fields never appear. */
export function isReadable(field: Field): boolean {
  return !isIdField(field) && !field.hidden && field.type !== 'password';
}
