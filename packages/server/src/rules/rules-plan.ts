/**
 * Resolution of an AST against the schema into a plan both compilers run: which columns, through
 * which relation hops, with which kinds; which references are correlated (PocketBase joins them once
 * per expression, so `@collection.x.a ?= 1 && @collection.x.b ?= 2` needs ONE row of x with both).
 * Everything that can be rejected statically is rejected here, identically for both compilers.
 */
import type { CompareOp, Expr, Modifier, Operand } from './rules-ast.ts';
import { CLIENT_FILTER_LIMITS, RULE_LIMITS } from './rules-ast.ts';
import { invalid, tooExpensive } from './rules-errors.ts';
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
  /** Most values a multi field holds (`maxSelect`): the fan-out of a multi relation hop in the cost estimate. */
  maxValues?: number;
}

/** Which access rule guards a join in a client filter: `list` for `@collection`, `view` for relation hops. */
export type AccessAction = 'list' | 'view';

/** Schema access for the compilers (implemented by the records layer). */
export interface PlanSchema {
  /** A field of a collection, including `id` (text); undefined = unknown (filter_invalid). */
  field(collection: string, name: string): PlanFieldInfo | undefined;
  /** Whether a collection exists; its table has the same name. */
  hasCollection(name: string): boolean;
  /**
   * The collection's list or view rule, parsed: `null` = superusers only, `""` = everyone. Client
   * filters AND it into every join that reaches the collection, so a filter only ever reads records the
   * caller could list (`@collection`) or view (relation hops).
   */
  accessRule(collection: string, action: AccessAction): Expr | null | '';
  /** The id of `name` when it is an auth collection (its records can be `@request.auth`), else undefined. */
  authCollection(name: string): { id: string } | undefined;
}

/** The auth collection a principal must belong to (`@request.auth.collectionName`/`collectionId`). */
export interface AuthTarget {
  name: string;
  id: string;
}

/**
 * The access guard of a join in a client filter: the target's rule resolved in owner mode against the
 * joined record, or `deny` (rule `null`: the join matches nothing). No guard = rule `""` or owner mode.
 */
export type JoinGuard = ResolvedPlan | 'deny';

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
  /** Most records a `multi` hop reaches (the relation's `maxSelect`), when known. */
  fanOut?: number;
  /** Client filters: which related records the caller may read through this join. */
  guard?: JoinGuard;
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
  /** The column holds ids of records of this auth collection (a relation to it, or its own `id`). */
  idsOf?: AuthTarget;
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
  /**
   * An id column of auth collection T compared with `@request.auth.id`: the leaf also requires the
   * caller to be a record of T, so an equal id from another auth collection (or an API key) never
   * matches. Any other caller, anonymous included, makes the leaf false, whatever the operator.
   */
  principal?: AuthTarget;
}

/** The resolved expression. */
export type Plan = LeafPlan | { type: 'and' | 'or'; left: Plan; right: Plan };

/** The plan plus the correlated join nodes (parents before children). */
export interface ResolvedPlan {
  plan: Plan;
  nodes: JoinNode[];
  /** Estimated rows the database visits per root record (0 without joins); see {@link planCost}. */
  cost: number;
}

/** How an expression is resolved. */
export interface ResolveOptions {
  /** Allow hidden fields (superusers, the schema owner's rules). */
  allowHidden: boolean;
  /**
   * A client filter (a non-superuser's `filter`): every join is guarded by the target's access rule,
   * and {@link CLIENT_FILTER_LIMITS} apply. Off for rules, which the schema owner wrote.
   */
  client?: boolean;
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
  readonly client: boolean;
  readonly nodes = new Map<string, JoinNode>();
  readonly aliases = new Map<string, string>();
  readonly guards = new Map<string, JoinGuard | undefined>();
  joins = 0;
  collectionJoins = 0;
  constructor(schema: PlanSchema, root: string, o: ResolveOptions) {
    this.schema = schema;
    this.root = root;
    this.allowHidden = o.allowHidden;
    this.client = o.client === true;
  }

  node(key: string, make: () => JoinNode): JoinNode {
    let n = this.nodes.get(key);
    if (!n) {
      if (++this.joins > RULE_LIMITS.maxJoins) throw invalid(`too many relation joins (max ${RULE_LIMITS.maxJoins})`);
      n = make();
      if (this.client) {
        const L = CLIENT_FILTER_LIMITS;
        if (n.kind === 'collection' && ++this.collectionJoins > L.maxCollectionJoins) {
          throw tooExpensive(`a filter can join at most ${L.maxCollectionJoins} @collection references`);
        }
        if (this.joins > L.maxJoins) throw tooExpensive(`a filter can follow at most ${L.maxJoins} relations and @collection references`);
        const guard = this.guard(n.collection, n.kind === 'collection' ? 'list' : 'view');
        if (guard !== undefined) n.guard = guard;
      }
      this.nodes.set(key, n);
    }
    return n;
  }

  /** The access guard of joins into `collection` (resolved once per expression). */
  guard(collection: string, action: AccessAction): JoinGuard | undefined {
    const k = `${action}:${collection}`;
    if (this.guards.has(k)) return this.guards.get(k);
    const rule = this.schema.accessRule(collection, action);
    // The owner's rule is trusted: resolved in owner mode, so guards never nest.
    const g = rule === null ? 'deny' : rule === '' ? undefined : resolvePlan(rule, this.schema, collection, { allowHidden: true });
    this.guards.set(k, g);
    return g;
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
        return this.finish(node, coll, chainMulti, f, path.slice(i + 1), modifier, display);
      }
      if (last) return this.finish(node, coll, chainMulti, f, [], modifier, display);
      if (!f.relation) throw invalid(`field ${JSON.stringify(name)} is not a relation`);
      // PocketBase: `rel.id` on a single relation is the stored id itself (no join, dangling ids match)
      if (!f.multi && i === path.length - 2 && path[i + 1] === 'id' && modifier !== 'length' && modifier !== 'each') {
        if (!this.schema.hasCollection(f.relation)) throw invalid(`unknown collection ${JSON.stringify(f.relation)}`);
        return this.finish(node, coll, chainMulti, f, [], modifier, display);
      }
      if (!this.schema.hasCollection(f.relation)) throw invalid(`unknown collection ${JSON.stringify(f.relation)}`);
      if (++hops > RULE_LIMITS.maxRelationHops) throw invalid(`too many nested relations in ${JSON.stringify(display)}`);
      const parent = node;
      const key = `${parent ? parent.key : 'r'}>${name}`;
      const target = f.relation;
      node = this.node(key, () => {
        const n: JoinNode = { key, parent, kind: f.multi ? 'multi' : 'single', collection: target, field: name };
        if (f.multi && f.maxValues !== undefined) n.fanOut = f.maxValues;
        return n;
      });
      if (f.multi) chainMulti = true;
      coll = target;
    }
    throw invalid(`invalid field path ${JSON.stringify(display)}`);
  }

  /** The column `f` of a record of `holder` (reached through `node`). */
  finish(node: JoinNode | null, holder: string, chainMulti: boolean, f: PlanFieldInfo, jsonPath: string[], modifier: Modifier | undefined, display: string): ColumnRef {
    const kind: ColumnKind = f.multi ? 'text' : f.kind === 'date' ? 'text' : f.kind;
    const ref: ColumnRef = { t: 'column', node, column: f.name, kind, fieldMulti: f.multi, jsonPath, chainMulti };
    if (!jsonPath.length && modifier !== 'length') {
      const of = f.relation ?? (f.name === 'id' ? holder : undefined);
      const auth = of !== undefined ? this.schema.authCollection(of) : undefined;
      if (auth) ref.idsOf = { name: of!, id: auth.id };
    }
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
    const out: LeafPlan = { type: 'leaf', op, any, left, right, correlated };
    const principal = principalTarget(left, right) ?? principalTarget(right, left);
    if (principal) out.principal = principal;
    return out;
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

/** The auth collection `col` holds ids of, when `other` is `@request.auth.id`. */
function principalTarget(col: Side, other: Side): AuthTarget | undefined {
  if (col.t !== 'column' || !col.idsOf || other.t !== 'value') return undefined;
  const o = other.operand;
  if (o.type !== 'request' || o.source !== 'auth' || o.path.length !== 1 || o.path[0] !== 'id') return undefined;
  if (o.modifier !== undefined && o.modifier !== 'lower') return undefined;
  return col.idsOf;
}

/** Rows one join contributes per parent row, times the work of its guard on each of them. */
function nodeWeight(n: JoinNode): number {
  const L = CLIENT_FILTER_LIMITS;
  const fan = n.kind === 'collection' ? L.collectionRows : n.kind === 'multi' ? Math.min(Math.max(1, n.fanOut ?? L.defaultFanOut), L.collectionRows) : 1;
  const guard = n.guard && n.guard !== 'deny' ? n.guard.cost : 0;
  return fan * (1 + guard);
}

function chainWeight(node: JoinNode | null): number {
  let w = 1;
  for (let n = node; n; n = n.parent) w *= nodeWeight(n);
  return w;
}

/**
 * Estimated rows the SQL visits per root record, following the SQL compiler's shape: the correlated
 * joins form one cross product around the whole expression, and inside it every other leaf with joins
 * runs its own sub-select (its chain's product) for each of those rows. A `@collection` join counts
 * a whole table, a multi hop its fan-out, a single hop (a primary-key lookup) 1.
 */
export function planCost(plan: Plan, nodes: JoinNode[]): number {
  let leaves = 0;
  const visit = (p: Plan): void => {
    if (p.type !== 'leaf') {
      visit(p.left);
      visit(p.right);
      return;
    }
    let c = 1;
    let joined = false;
    for (const s of [p.left, p.right]) {
      if (s.t !== 'column' || !s.node || (p.correlated && s.chainMulti)) continue;
      c *= chainWeight(s.node);
      joined = true;
    }
    if (joined) leaves += c;
  };
  visit(plan);
  if (!nodes.length) return leaves;
  return nodes.reduce((w, n) => w * nodeWeight(n), 1) * Math.max(1, leaves);
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
 * and too many joins; for client filters `filter_too_expensive` over {@link CLIENT_FILTER_LIMITS}.
 */
export function resolvePlan(expr: Expr, schema: PlanSchema, collection: string, o: ResolveOptions): ResolvedPlan {
  if (!schema.hasCollection(collection)) throw invalid(`unknown collection ${JSON.stringify(collection)}`);
  const r = new Resolver(schema, collection, o);
  const plan = r.expr(expr);
  const correlated = new Map<string, JoinNode>();
  collectCorrelated(plan, correlated);
  const nodes = [...correlated.values()];
  const cost = r.joins ? planCost(plan, nodes) : 0;
  if (r.client && cost > CLIENT_FILTER_LIMITS.maxCost) {
    throw tooExpensive(`the filter would read about ${cost > 1e12 ? 'more than 10^12' : Math.round(cost)} related rows per record (max ${CLIENT_FILTER_LIMITS.maxCost}); use fewer @collection references or multi-relation paths`);
  }
  return { plan, nodes, cost };
}
