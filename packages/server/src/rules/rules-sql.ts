/**
 * Plan → one parameterised boolean SQL expression for WHERE. Values only ever travel as `?` params;
 * identifiers come from the schema and are quoted by the dialect.
 *
 * Shape: correlated any-of references (relation traversals through multi relations, `@collection`)
 * are LEFT JOINed once in an `EXISTS (SELECT 1 FROM (SELECT 1) LEFT JOIN … WHERE <expr>)` around the
 * whole expression, like PocketBase's joins on the main query. Every other multi-value side gets its
 * own sub-select: `EXISTS` for `?op`, `NOT EXISTS … NOT COALESCE(cond, FALSE)` for a plain op
 * (every value must match). LEFT JOINs from a one-row base make an empty array read as one NULL,
 * which is PocketBase's empty-array behaviour.
 *
 * Client filters carry an access guard on every join (the target's view or list rule, compiled against
 * the joined alias) in its ON condition: a record the caller may not read is a NULL row, exactly as if
 * it did not exist.
 */
import type { Dialect, SqlValue } from '../db/index.ts';
import type { CompareOp } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';
import {
  type ColumnRef, type JoinNode, type LeafPlan, type Plan, type ResolvedPlan, type Side, columnSideType,
} from './rules-plan.ts';
import {
  coerce, compareItems, likePattern, operandValues, pairDomain, principalIs, type Domain, type RequestValues,
} from './rules-values.ts';

interface Frag {
  sql: string;
  params: SqlValue[];
}

const TRUE = '(1=1)';
const FALSE = '(1=0)';

/** Inputs of one SQL compilation. */
export interface SqlPlanOptions {
  dialect: Dialect;
  tableAlias: string;
  request: RequestValues;
  now: Date;
}

/** A column side in SQL: its value expression and whether it can be NULL. */
interface ColSql {
  expr: string;
  params: SqlValue[];
  nullable: boolean;
  noCoalesce: boolean;
}

class SqlCompiler {
  readonly d: Dialect;
  /** The record the expression being compiled is about: the root table, or a joined alias (guards). */
  root: string;
  readonly req: RequestValues;
  readonly now: Date;
  mainAlias = new Map<string, string>();
  n = 0;
  constructor(o: SqlPlanOptions) {
    this.d = o.dialect;
    this.root = o.tableAlias;
    this.req = o.request;
    this.now = o.now;
  }

  alias(prefix: string): string {
    return `__${prefix}${++this.n}`;
  }

  q(name: string): string {
    return this.d.quoteIdent(name);
  }

  /**
   * LEFT JOIN one node onto `parentAlias`; returns the node's alias. The joins that multiply rows
   * (`@collection`, multi relations) carry the dialect's row guard, so a bounded read can be stopped
   * inside them (db `readBounded`).
   */
  joinNode(n: JoinNode, parentAlias: string, joins: Frag[]): string {
    const a = this.alias('j');
    const table = this.q(n.collection);
    let on: string;
    if (n.kind === 'collection') {
      on = this.d.rowGuard(`${a}.${this.q('id')}`);
    } else if (n.kind === 'single') {
      on = `${a}.${this.q('id')} = ${parentAlias}.${this.q(n.field!)}`;
    } else {
      const je = this.alias('e');
      joins.push({ sql: `LEFT JOIN ${this.d.jsonEach(`${parentAlias}.${this.q(n.field!)}`, je)} ON 1=1`, params: [] });
      on = `${a}.${this.q('id')} = ${je}.value AND ${this.d.rowGuard(`${a}.${this.q('id')}`)}`;
    }
    const guard = this.guard(n, a);
    joins.push({ sql: `LEFT JOIN ${table} ${a} ON ${on}${guard ? ` AND ${guard.sql}` : ''}`, params: guard ? guard.params : [] });
    return a;
  }

  /** The access guard of a join, compiled against its alias (client filters), or null for none. */
  guard(n: JoinNode, a: string): Frag | null {
    if (!n.guard) return null;
    if (n.guard === 'deny') return { sql: FALSE, params: [] };
    // Same compiler, so aliases stay unique across the nested expression; own root and joins.
    const saved = { root: this.root, mainAlias: this.mainAlias };
    this.root = a;
    this.mainAlias = new Map();
    try {
      const g = this.compile(n.guard);
      return { sql: `(${g.sql})`, params: g.params };
    } finally {
      this.root = saved.root;
      this.mainAlias = saved.mainAlias;
    }
  }

  /** Alias holding the record of `node`: the main join's, or a fresh local chain. */
  recordAlias(node: JoinNode | null, correlated: boolean, joins: Frag[]): string {
    if (!node) return this.root;
    if (correlated) {
      const a = this.mainAlias.get(node.key);
      if (a) return a;
    }
    const parent = this.recordAlias(node.parent, false, joins);
    return this.joinNode(node, parent, joins);
  }

  /** Add the joins a column side needs; returns the alias of the record (or element) that holds it. */
  columnBase(c: ColumnRef, correlated: boolean, joins: Frag[]): { base: string; viaJoin: boolean; element: string | null } {
    const rec = this.recordAlias(c.node, correlated && c.chainMulti, joins);
    const base = `${rec}.${this.q(c.column)}`;
    let element: string | null = null;
    if (c.fieldMulti && c.modifier !== 'length') {
      const je = this.alias('e');
      joins.push({ sql: `LEFT JOIN ${this.d.jsonEach(base, je)} ON 1=1`, params: [] });
      element = `${je}.value`;
    }
    return { base, viaJoin: rec !== this.root, element };
  }

  /** SQL for a column side read in `domain`. */
  columnExpr(c: ColumnRef, b: { base: string; viaJoin: boolean; element: string | null }, domain: Domain): ColSql {
    const { base, viaJoin, element } = b;
    if (c.modifier === 'length') {
      return { expr: `(CASE WHEN ${base} IS NULL THEN NULL ELSE ${this.d.jsonArrayLength(base)} END)`, params: [], nullable: viaJoin, noCoalesce: false };
    }
    if (element !== null) {
      return { expr: c.modifier === 'lower' ? this.d.lowerAscii(element) : element, params: [], nullable: true, noCoalesce: false };
    }
    if (c.kind === 'json') {
      const as = c.modifier === 'lower' ? 'text' : domain === 'jsonnull' ? 'isnull' : domain;
      const j = this.d.jsonValue(base, c.jsonPath, as);
      return { expr: c.modifier === 'lower' ? this.d.lowerAscii(j.sql) : j.sql, params: j.params, nullable: true, noCoalesce: c.modifier !== 'lower' };
    }
    return { expr: c.modifier === 'lower' ? this.d.lowerAscii(base) : base, params: [], nullable: viaJoin, noCoalesce: false };
  }

  param(domain: 'text' | 'number' | 'bool', v: unknown): ColSql {
    const c = coerce(domain, v);
    const value = c.ok ? c.v : null;
    return { expr: this.d.typedParam(domain), params: [value], nullable: value === null, noCoalesce: false };
  }

  /** The condition for one pair in one domain (may be NULL when a side is NULL; callers handle it). */
  cond(op: CompareOp, domain: Domain, l: ColSql, r: ColSql, rIsColumn: boolean): Frag {
    if (domain === 'jsonnull') {
      // `l` is the json column read as its `isnull` test (the other side is a null value)
      const j = l;
      if (op === '=') return { sql: j.expr, params: j.params };
      if (op === '!=') return { sql: `(NOT ${j.expr})`, params: j.params };
      return { sql: FALSE, params: [] };
    }
    const params = [...l.params, ...r.params];
    if (op === '~' || op === '!~') {
      const pattern = rIsColumn ? `('%' || ${r.expr} || '%')` : r.expr;
      const m = this.d.ilike(l.expr, pattern);
      return { sql: op === '~' ? m : `(NOT ${m})`, params };
    }
    if (op === '=' || op === '!=') {
      const co = (s: ColSql) => (domain === 'text' && s.nullable && !s.noCoalesce ? `COALESCE(${s.expr}, '')` : s.expr);
      const eq = this.d.nullSafeEq(co(l), co(r));
      return { sql: op === '=' ? eq : `(NOT ${eq})`, params };
    }
    const left = domain === 'text' ? this.d.collateBinary(l.expr) : l.expr;
    return { sql: `(${left} ${op} ${r.expr})`, params };
  }

  values(s: Side): unknown[] {
    if (s.t !== 'value') throw new Error('not a value side');
    return operandValues(s.operand, this.req, this.now);
  }

  leaf(p: LeafPlan): Frag {
    const { op, left, right } = p;
    // An auth collection's ids compared with the caller's id: only a record of that collection counts.
    if (p.principal && !principalIs(this.req.auth, p.principal)) return { sql: FALSE, params: [] };
    // Two values: evaluate now, exactly as the in-memory evaluator does.
    if (left.t === 'value' && right.t === 'value') {
      const ls = this.values(left), rs = this.values(right);
      const check = (a: unknown, b: unknown) => compareItems(op, { v: a }, { v: b });
      const ok = p.any ? ls.some((a) => rs.some((b) => check(a, b))) : ls.every((a) => rs.every((b) => check(a, b)));
      return { sql: ok ? TRUE : FALSE, params: [] };
    }
    const joins: Frag[] = [];
    const correlated = p.correlated;
    const conds: Frag[] = [];
    if (left.t === 'column' && right.t === 'column') {
      const d = pairDomain({ col: columnSideType(left) }, { col: columnSideType(right) }, op);
      if (typeof d !== 'string') throw invalid(d.error);
      const l = this.columnExpr(left, this.columnBase(left, correlated, joins), d);
      const r = this.columnExpr(right, this.columnBase(right, correlated, joins), d);
      conds.push(this.cond(op, d, l, r, true));
    } else {
      const colIsLeft = left.t === 'column';
      const col = (colIsLeft ? left : right) as ColumnRef;
      const vals = this.values(colIsLeft ? right : left);
      const ct = columnSideType(col);
      const base = this.columnBase(col, correlated, joins);
      for (const v of vals) {
        const d = pairDomain({ col: ct }, { value: v }, op);
        if (typeof d !== 'string') throw invalid(d.error);
        const c = this.columnExpr(col, base, d);
        if (d === 'jsonnull') {
          conds.push(this.cond(op, d, c, c, false));
        } else if (op === '~' || op === '!~') {
          if (colIsLeft) {
            const pat = likePattern((coerce('text', v) as { v: string | null }).v ?? '');
            conds.push(this.cond(op, d, c, { expr: this.d.typedParam('text'), params: [pat], nullable: false, noCoalesce: false }, false));
          } else {
            conds.push(this.cond(op, d, this.param('text', v), c, true));
          }
        } else {
          const pv = this.param(d, v);
          conds.push(colIsLeft ? this.cond(op, d, c, pv, false) : this.cond(op, d, pv, c, false));
        }
      }
    }
    const combined: Frag = {
      sql: conds.length === 1 ? conds[0].sql : `(${conds.map((c) => c.sql).join(p.any ? ' OR ' : ' AND ')})`,
      params: conds.flatMap((c) => c.params),
    };
    if (!joins.length) return combined;
    const from = `(SELECT 1 AS o) ${this.alias('b')} ${joins.map((j) => j.sql).join(' ')}`;
    const jp = joins.flatMap((j) => j.params);
    if (!p.any) {
      // every value (every element, every related record) must match; an empty array reads as one NULL
      return { sql: `(NOT EXISTS (SELECT 1 FROM ${from} WHERE NOT COALESCE(${combined.sql}, FALSE)))`, params: [...jp, ...combined.params] };
    }
    return { sql: `(EXISTS (SELECT 1 FROM ${from} WHERE ${combined.sql}))`, params: [...jp, ...combined.params] };
  }

  plan(p: Plan): Frag {
    if (p.type === 'leaf') return this.leaf(p);
    const l = this.plan(p.left), r = this.plan(p.right);
    return { sql: `(${l.sql} ${p.type === 'and' ? 'AND' : 'OR'} ${r.sql})`, params: [...l.params, ...r.params] };
  }

  compile(rp: ResolvedPlan): Frag {
    const joins: Frag[] = [];
    for (const n of rp.nodes) {
      const parent = n.parent ? this.mainAlias.get(n.parent.key)! : this.root;
      this.mainAlias.set(n.key, this.joinNode(n, parent, joins));
    }
    const body = this.plan(rp.plan);
    if (!joins.length) return body;
    return {
      sql: `EXISTS (SELECT 1 FROM (SELECT 1 AS o) ${this.alias('b')} ${joins.map((j) => j.sql).join(' ')} WHERE ${body.sql})`,
      params: [...joins.flatMap((j) => j.params), ...body.params],
    };
  }
}

/** Compile a resolved plan to SQL. */
export function planToSql(rp: ResolvedPlan, o: SqlPlanOptions): { sql: string; params: SqlValue[] } {
  return new SqlCompiler(o).compile(rp);
}
