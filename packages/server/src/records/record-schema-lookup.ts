/**
 * The records layer's answer to the rule compiler's questions: what a name means in a collection
 * (PocketBase's `record_field_resolver`). The rules module knows nothing of collections.
 */
import { isMultiValued, storageShape, type Collection, type Field } from '../schema/index.ts';
import type { FieldInfo, SchemaLookup } from '../rules/index.ts';
import { isSecretField } from './record-codec.ts';

function fieldInfo(all: (idOrName: string) => Collection | undefined, f: Field): FieldInfo {
  const shape = storageShape(f);
  const kind: FieldInfo['kind'] =
    f.type === 'date' || f.type === 'autodate' ? 'date' : shape.kind === 'json' && !shape.multi ? 'json' : shape.kind === 'json' ? 'text' : shape.kind;
  const info: FieldInfo = { name: f.name, kind, multi: isMultiValued(f), hidden: f.hidden === true };
  if (f.type === 'secret') info.encrypted = true;
  if (f.type === 'relation') {
    const target = all(f.collectionId);
    if (target) info.relation = target.name;
  }
  return info;
}

/** A SchemaLookup over a set of collections (the live registry, or a schema being validated). */
export function schemaLookup(find: (idOrName: string) => Collection | undefined): SchemaLookup {
  return {
    field(collection: string, name: string): FieldInfo | undefined {
      const c = find(collection);
      const f = c?.fields.find((x) => x.name === name);
      if (!c || !f || isSecretField(f)) return undefined;
      const info = fieldInfo(find, f);
      // An auth record's email is private unless it opts in: callers' filters cannot probe it (rules can).
      if (c.type === 'auth' && f.name === 'email') info.hidden = true;
      return info;
    },
    hasCollection(name: string): boolean {
      const c = find(name);
      return c !== undefined && c.name === name;
    },
  };
}
