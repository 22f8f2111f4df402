/**
 * Compiled serialisers: a stored row straight to the record's JSON text, generated once per collection
 * definition (the approach of Fastify's fast-json-stringify). The hot read path skips building the API
 * object and walking it again in `JSON.stringify`; the output is byte-for-byte what
 * `JSON.stringify(rowToRecord(…))` gives (a test holds them equal).
 */
import type { Collection, Field } from '../schema/index.ts';
import { storageShape } from '../schema/index.ts';
import { BasaltError } from '../errors/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import { decodeJson, isSecretField, secretAad } from './record-codec.ts';

/**
 * Row → JSON text. `box` decrypts `secret` fields (as `rowToRecord(c, row, box)` does); collections
 * without secret fields never touch it, so their serialisers do no extra work.
 */
export type RowSerializer = (row: Record<string, unknown>, box?: SecretBox) => string;

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
  /** A secret field's value: opened with `aad` when a box is given, else its stored (sealed) form. */
  secret: (box: SecretBox | undefined, v: unknown, aad: string) => {
    if (v === null || v === undefined || v === '') return '""';
    if (!box) return JSON.stringify(String(v));
    if (typeof v !== 'string') throw new BasaltError('secret_unreadable');
    return JSON.stringify(box.open(v, aad));
  },
};

function encoderFor(f: Field): Exclude<keyof typeof helpers, 'secret'> {
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
    parts.push(JSON.stringify(`,${JSON.stringify(f.name)}:`));
    if (f.type === 'secret') {
      const [before, after] = secretAad(c, '\u0000', f).split('\u0000');
      parts.push(`h.secret(box, row[${JSON.stringify(f.name)}], ${JSON.stringify(before)} + row.id + ${JSON.stringify(after)})`);
    } else {
      parts.push(`h.${encoderFor(f)}(row[${JSON.stringify(f.name)}])`);
    }
  }
  parts.push(JSON.stringify('}'));
  // eslint-disable-next-line no-new-func -- generated from the schema once, with every name quoted
  return new Function('h', `return function serialize(row, box) { return ${parts.join(' + ')}; };`)(helpers) as RowSerializer;
}

const cache = new WeakMap<Collection, { all?: RowSerializer; visible?: RowSerializer }>();

/** The serialiser of a collection definition; `includeHidden` for superusers. */
export function rowSerializer(c: Collection, includeHidden: boolean): RowSerializer {
  let entry = cache.get(c);
  if (!entry) cache.set(c, (entry = {}));
  return includeHidden ? (entry.all ??= compile(c, true)) : (entry.visible ??= compile(c, false));
}
