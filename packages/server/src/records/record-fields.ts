/**
 * The `fields` query parameter: pick which members of each record (and of expanded records) are
 * returned, e.g. `fields=id,title,expand.author.name`. `*` keeps every member at its level.
 */
import { BasaltError } from '../errors/index.ts';

/** A parsed `fields` tree; `'*'` in a node keeps everything at that level. */
export type FieldTree = Map<string, FieldTree>;

const MAX_FIELDS_PARAM = 2000;

/** Parse `fields`; undefined when absent (everything is returned). */
export function parseFieldsParam(param: string | undefined): FieldTree | undefined {
  if (param === undefined || param.trim() === '') return undefined;
  if (param.length > MAX_FIELDS_PARAM) throw new BasaltError('bad_request', { message: 'The fields parameter is too long.' });
  const root: FieldTree = new Map();
  for (const raw of param.split(',')) {
    const path = raw.trim();
    if (!path) continue;
    if (!/^(\*|[a-zA-Z_][a-zA-Z0-9_]*)(\.(\*|[a-zA-Z_][a-zA-Z0-9_]*))*$/.test(path)) {
      throw new BasaltError('bad_request', { message: `Invalid fields entry "${path.slice(0, 64)}".` });
    }
    let node = root;
    for (const part of path.split('.')) {
      let next = node.get(part);
      if (!next) node.set(part, (next = new Map()));
      node = next;
    }
  }
  return root;
}

/** Apply a fields tree to a record (recursing into `expand`). */
export function pickFields(value: unknown, tree: FieldTree): unknown {
  if (Array.isArray(value)) return value.map((v) => pickFields(v, tree));
  if (typeof value !== 'object' || value === null) return value;
  const src = value as Record<string, unknown>;
  const all = tree.has('*');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(src)) {
    const sub = tree.get(key);
    if (sub) out[key] = sub.size ? pickFields(src[key], sub) : src[key];
    else if (all) out[key] = src[key];
  }
  return out;
}
