/**
 * Compiled serialisers: a stored row straight to the record's JSON text, generated once per collection
 * definition (the approach of Fastify's fast-json-stringify). The hot read path skips building the API
 * object and walking it again in `JSON.stringify`; the output is byte-for-byte what
 * `JSON.stringify(rowToRecord(…))` gives (a test holds them equal).
 */
import type { Collection, Field } from '../schema/index.ts';
import { storageShape } from '../schema/index.ts';
import { decodeJson, isSecretField } from './record-codec.ts';

/** Row → JSON text. */
export type RowSerializer = (row: Record<string, unknown>) => string;

/** Value encoders the generated code calls; each mirrors `decodeValue` and then JSON-encodes. */
const helpers = {
  str: (v: unknown) => JSON.stringify(v == null ? '' : String(v)),
  num: (v: unknown) => JSON.stringify(typeof v === 'number' ? v : Number(v ?? 0)),
  bool: (v: unknown) => (v === true || v === 1 || v === 1n || v === '1' ? 'true' : 'false'),
  json: (v: unknown) => JSON.stringify(decodeJson(v)),
  multi: (v: unknown) => {
    const parsed = decodeJson(v);
    return JSON.stringify(Array.isArray(parsed) ? parsed.map(String) : []);
  },
};

function encoderFor(f: Field): keyof typeof helpers {
  const shape = storageShape(f);
  if (shape.kind === 'bool') return 'bool';
  if (shape.kind === 'number') return 'num';
  if (shape.kind === 'json') return shape.multi ? 'multi' : 'json';
  return 'str';
}

function compile(c: Collection, includeHidden: boolean): RowSerializer {
  const parts: string[] = [JSON.stringify(`{"collectionId":${JSON.stringify(c.id)},"collectionName":${JSON.stringify(c.name)}`)];
  for (const f of c.fields) {
    if (isSecretField(f) || (f.hidden && !includeHidden)) continue;
    // Names are validated identifiers; JSON.stringify makes them safe literals regardless.
    parts.push(JSON.stringify(`,${JSON.stringify(f.name)}:`), `h.${encoderFor(f)}(row[${JSON.stringify(f.name)}])`);
  }
  parts.push(JSON.stringify('}'));
  // eslint-disable-next-line no-new-func -- generated from the schema once, with every name quoted
  return new Function('h', `return function serialize(row) { return ${parts.join(' + ')}; };`)(helpers) as RowSerializer;
}

const cache = new WeakMap<Collection, { all?: RowSerializer; visible?: RowSerializer }>();

/** The serialiser of a collection definition; `includeHidden` for superusers. */
export function rowSerializer(c: Collection, includeHidden: boolean): RowSerializer {
  let entry = cache.get(c);
  if (!entry) cache.set(c, (entry = {}));
  return includeHidden ? (entry.all ??= compile(c, true)) : (entry.visible ??= compile(c, false));
}
