/**
 * Resolution of an AST against the schema into a plan both compilers run: which columns, through
 * which relation hops, with which kinds; which references are correlated (PocketBase joins them once
 * per expression, so `@collection.x.a ?= 1 && @collection.x.b ?= 2` needs ONE row of x with both).
 * Everything that can be rejected statically is rejected here, identically for both compilers.
 */
import type { CompareOp, Expr, Modifier, Operand } from './rules-ast.ts';
import { RULE_LIMITS } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';
import { operandValues, pairDomain, coerce, type ColumnKind, type SideType, type RequestValues } from './rules-values.ts';

/** What the compilers need to know about a field. */
export interface PlanFieldInfo {
  name: string;
  kind: 'text' | 'number' | 'bool' | 'json' | 'date';
  multi: boolean;
  /** Target collection NAME of a relation field. */
  relation?: string;
  hidden?: boolean;
  /** Stored encrypted (a `secret` field): comparing ciphertexts means nothing, so it cannot be used. */
  encrypted?: boolean;
}

/** Schema access for the compilers (implemented by the records layer). */
export interface PlanSchema {
  /** A field of a collection, including `id` (text); undefined = unknown (filter_invalid). */
  field(collection: string, name: string): PlanFieldInfo | undefined;
  /** Whether a collection exists; its table has the same name. */
  hasCollection(name: string): boolean;
}

/** A join node: the start of a `@collection` reference or one relation hop. */
export interface JoinNode {
  /** Identity within the expression (`r:author`, `c:news>author`); equal keys are the same join. */
  key: string;
  parent: JoinNode | null;
  kind: 'collection' | 'single' | 'multi';
  /** Table (collection) the node's rows come from. */
  collection: string;
  /** Relation field on the parent (root record when `parent` is null); absent for `collection`. */
  field?: string;
}

/** A column operand. */
export interface ColumnRef {
  t: 'column';
  /** Last join node (the record holding the column), or null for the root record. */
  node: JoinNode | null;
  column: string;
  /** The field's kind (date as text; multi fields' elements are text). */
  kind: ColumnKind;
  /** The column holds an array of values (multi select/relation), compared element-wise. */
  fieldMulti: boolean;
  jsonPath: string[];
  modifier?: Exclude<Modifier, 'isset'>;
  /** The node chain passes a multi relation or a `@collection` (several records). */
  chainMulti: boolean;
}

/** A literal, macro or `@request.*` operand. `static`: known at compile time (literal or macro). */
export interface ValueRef {
  t: 'value';
  operand: Operand;
  static: boolean;
}

/** One resolved side. */
export type Side = ColumnRef | ValueRef;

/** A comparison leaf. `correlated`: an any-of leaf reading the expression-wide join rows. */
export interface LeafPlan {
  type: 'leaf';
  op: CompareOp;
  any: boolean;
  left: Side;
  right: Side;
  correlated: boolean;
}

/** The resolved expression. */
export type Plan = LeafPlan | { type: 'and' | 'or'; left: Plan; right: Plan };

/** The plan plus the correlated join nodes (parents before children). */
export interface ResolvedPlan {
  plan: Plan;
  nodes: JoinNode[];
}

/** The comparison type of a column side (after modifiers). */
export function columnSideType(c: ColumnRef): ColumnKind {
  if (c.modifier === 'length') return 'number';
  if (c.modifier === 'lower') return 'text';
  if (c.fieldMulti) return 'text';
  return c.kind;
}

/** True when a column side yields several values for one record. */
export function sideIsMulti(s: Side): boolean {
  return s.t === 'column' && (s.chainMulti || (s.fieldMulti && s.modifier !== 'length'));
}

const STATIC_REQUEST: RequestValues = { auth: null, body: {}, query: {}, headers: {}, method: '', context: '' };

class Resolver {
  readonly schema: PlanSchema;
  readonly root: string;
  readonly allowHidden: boolean;
  readonly nodes = new Map<string, JoinNode>();
  readonly aliases = new Map<string, string>();
  joins = 0;
  constructor(schema: PlanSchema, root: string, allowHidden: boolean) {
    this.schema = schema;
    this.root = root;
    this.allowHidden = allowHidden;
  }

  node(key: string, make: () => JoinNode): JoinNode {
    let n = this.nodes.get(key);
    if (!n) {
      if (++this.joins > RULE_LIMITS.maxJoins) throw invalid(`too many relation joins (max ${RULE_LIMITS.maxJoins})`);
      n = make();
      this.nodes.set(key, n);
    }
    return n;
  }

  field(collection: string, name: string): PlanFieldInfo {
    const f = this.schema.field(collection, name);
    if (!f) throw invalid(`unknown field ${JSON.stringify(name)}`);
    if (f.encrypted) throw invalid(`field ${JSON.stringify(name)} is encrypted and cannot be used in filters or rules`);
    if (f.hidden && !this.allowHidden) throw invalid(`field ${JSON.stringify(name)} cannot be filtered`);
    return f;
  }

  column(start: JoinNode | null, collection: string, path: string[], modifier: Modifier | undefined, display: string): ColumnRef {
    let node = start;
    let coll = collection;
    let hops = 0;
    let chainMulti = start !== null && start.kind === 'collection';
    for (let i = 0; i < path.length; i++) {
      const name = path[i];
      if (/^\d/.test(name)) throw invalid(`invalid field path ${JSON.stringify(display)}`);
      const f = this.field(coll, name);
      const last = i === path.length - 1;
      if (!last && f.kind === 'json' && !f.multi) {
        return this.finish(node, chainMulti, f, path.slice(i + 1), modifier, display);
      }
      if (last) return this.finish(node, chainMulti, f, [], modifier, display);
      if (!f.relation) throw invalid(`field ${JSON.stringify(name)} is not a relation`);
      // PocketBase: `rel.id` on a single relation is the stored id itself (no join, dangling ids match)
      if (!f.multi && i === path.length - 2 && path[i + 1] === 'id' && modifier !== 'length' && modifier !== 'each') {
        if (!this.schema.hasCollection(f.relation)) throw invalid(`unknown collection ${JSON.stringify(f.relation)}`);
        return this.finish(node, chainMulti, f, [], modifier, display);
      }
      if (!this.schema.hasCollection(f.relation)) throw invalid(`unknown collection ${JSON.stringify(f.relation)}`);
      if (++hops > RULE_LIMITS.maxRelationHops) throw invalid(`too many nested relations in ${JSON.stringify(display)}`);
      const parent = node;
      const key = `${parent ? parent.key : 'r'}>${name}`;
      const target = f.relation;
      node = this.node(key, () => ({ key, parent, kind: f.multi ? 'multi' : 'single', collection: target, field: name }));
      if (f.multi) chainMulti = true;
      coll = target;
    }
    throw invalid(`invalid field path ${JSON.stringify(display)}`);
  }

  finish(node: JoinNode | null, chainMulti: boolean, f: PlanFieldInfo, jsonPath: string[], modifier: Modifier | undefined, display: string): ColumnRef {
    const kind: ColumnKind = f.multi ? 'text' : f.kind === 'date' ? 'text' : f.kind;
    const ref: ColumnRef = { t: 'column', node, column: f.name, kind, fieldMulti: f.multi, jsonPath, chainMulti };
    if (modifier === 'length' || modifier === 'each') {
      if (!f.multi || jsonPath.length) throw invalid(`:${modifier} needs a multi-value field (${JSON.stringify(display)})`);
      ref.modifier = modifier;
    } else if (modifier === 'lower') {
      if (!f.multi && kind !== 'text' && kind !== 'json') throw invalid(`:lower needs a text field (${JSON.stringify(display)})`);
      ref.modifier = modifier;
    }
    return ref;
  }

  side(o: Operand): Side {
    switch (o.type) {
      case 'field':
        return this.column(null, this.root, o.path, o.modifier, o.path.join('.'));
      case 'collection': {
        if (!this.schema.hasCollection(o.collection)) throw invalid(`unknown collection ${JSON.stringify(o.collection)}`);
        const key = o.alias !== undefined ? `a:${o.alias}` : `c:${o.collection}`;
        const seen = this.aliases.get(key);
        if (seen !== undefined && seen !== o.collection) throw invalid(`alias ${JSON.stringify(o.alias)} used for two collections`);
        this.aliases.set(key, o.collection);
        const start = this.node(key, () => ({ key, parent: null, kind: 'collection', collection: o.collection }));
        return this.column(start, o.collection, o.path, o.modifier, `@collection.${o.collection}.${o.path.join('.')}`);
      }
      case 'request':
        if ((o.modifier === 'length' || o.modifier === 'each' || o.modifier === 'isset') && (o.source === 'method' || o.source === 'context')) {
          throw invalid(`:${o.modifier} is not valid on @request.${o.source}`);
        }
        return { t: 'value', operand: o, static: false };
      default:
        return { t: 'value', operand: o, static: true };
    }
  }

  leaf(op: CompareOp, any: boolean, left: Side, right: Side): LeafPlan {
    // Reject malformed comparisons up front, the same way for both compilers.
    const lt = this.staticTypes(left), rt = this.staticTypes(right);
    for (const a of lt) {
      for (const b of rt) {
        const d = pairDomain(a, b, op);
        if (typeof d !== 'string') throw invalid(d.error);
        if (d === 'jsonnull') continue;
        for (const [x, y] of [[a, b], [b, a]] as const) {
          if ('col' in x && 'value' in y && x.col !== 'json' && !coerce(d, y.value).ok) {
            throw invalid(`cannot compare a ${x.col} field with ${JSON.stringify(y.value)}`);
          }
        }
      }
    }
    const correlated = any && ((left.t === 'column' && left.chainMulti) || (right.t === 'column' && right.chainMulti));
    return { type: 'leaf', op, any, left, right, correlated };
  }

  /** Side types known at compile time (columns and literals/macros); request values are dynamic. */
  staticTypes(s: Side): SideType[] {
    if (s.t === 'column') return [{ col: columnSideType(s) }];
    if (!s.static) return [];
    return operandValues(s.operand, STATIC_REQUEST, new Date()).map((value) => ({ value }));
  }

  expr(e: Expr): Plan {
    if (e.type === 'compare') return this.leaf(e.op, e.any, this.side(e.left), this.side(e.right));
    return { type: e.type, left: this.expr(e.left), right: this.expr(e.right) };
  }
}

function collectCorrelated(plan: Plan, out: Map<string, JoinNode>): void {
  if (plan.type !== 'leaf') {
    collectCorrelated(plan.left, out);
    collectCorrelated(plan.right, out);
    return;
  }
  if (!plan.correlated) return;
  for (const s of [plan.left, plan.right]) {
    if (s.t !== 'column' || !s.chainMulti) continue;
    const chain: JoinNode[] = [];
    for (let n = s.node; n; n = n.parent) chain.unshift(n);
    for (const n of chain) out.set(n.key, n);
  }
}

/**
 * Resolve `expr` against the schema for records of `collection`. Throws `filter_invalid` for unknown
 * fields/collections, hidden fields (unless `allowHidden`), bad modifiers, malformed comparisons
 * and too many joins.
 */
export function resolvePlan(expr: Expr, schema: PlanSchema, collection: string, allowHidden: boolean): ResolvedPlan {
  if (!schema.hasCollection(collection)) throw invalid(`unknown collection ${JSON.stringify(collection)}`);
  const r = new Resolver(schema, collection, allowHidden);
  const plan = r.expr(expr);
  const nodes = new Map<string, JoinNode>();
  collectCorrelated(plan, nodes);
  return { plan, nodes: [...nodes.values()] };
}
