/**
 * The records layer's answer to the rule compiler's questions: what a name means in a collection
 * (PocketBase's `record_field_resolver`). The rules module knows nothing of collections.
 */
import { isMultiValued, storageShape, type Collection, type Field } from '../schema/index.ts';
import { parseExpression, type AccessAction, type Expr, type FieldInfo, type SchemaLookup } from '../rules/index.ts';
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
    if (info.multi && f.maxSelect) info.maxValues = f.maxSelect;
  }
  return info;
}

/**
 * A SchemaLookup over a set of collections (the live registry, or a schema being validated).
 * `parse` turns an access rule into its AST (the records service passes its parse cache).
 */
export function schemaLookup(find: (idOrName: string) => Collection | undefined, parse: (rule: string) => Expr = parseExpression): SchemaLookup {
  const byName = (name: string) => {
    const c = find(name);
    return c !== undefined && c.name === name ? c : undefined;
  };
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
      return byName(name) !== undefined;
    },
    accessRule(collection: string, action: AccessAction): Expr | null | '' {
      const c = byName(collection);
      // An unknown collection never gets this far (the resolver checks first); deny if it does.
      const rule = c ? (action === 'list' ? c.listRule : c.viewRule) : null;
      return rule === null || rule === '' ? rule : parse(rule);
    },
    authCollection(name: string): { id: string } | undefined {
      const c = byName(name);
      return c?.type === 'auth' ? { id: c.id } : undefined;
    },
  };
}
