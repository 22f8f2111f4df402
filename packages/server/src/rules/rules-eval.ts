/**
 * Plan → async in-memory predicate over an API-shaped record. Mirrors rules-sql.ts exactly:
 * correlated references enumerate one combination of related records at a time (like the SQL join
 * rows), an empty array reads as one null, a plain op on several values needs every value to match.
 * A join's access guard (client filters) turns a related record the caller may not read into null,
 * as the guard in the SQL join's ON condition does.
 */
import { RULE_LIMITS } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';
import { type ColumnRef, type JoinNode, type LeafPlan, type Plan, type ResolvedPlan, type Side, columnSideType } from './rules-plan.ts';
import { asciiLower, compareItems, jsonAs, operandValues, principalIs, toText, type Item, type RequestValues } from './rules-values.ts';

type Rec = Record<string, unknown>;

/** Related-record access for the evaluator (see the public `RecordLookup`). */
export interface EvalLookup {
  get(collection: string, id: string): Promise<Rec | undefined>;
  list(collection: string): Promise<Rec[]>;
}

/** Per-call memo so each related record / collection is fetched (and each guard checked) once. */
class Memo {
  readonly inner: EvalLookup;
  readonly request: RequestValues;
  readonly now: Date;
  readonly gets = new Map<string, Promise<Rec | null>>();
  readonly lists = new Map<string, Promise<Rec[]>>();
  readonly admitted = new Map<string, Promise<boolean>>();
  readonly visibleLists = new Map<string, Promise<Rec[]>>();
  constructor(inner: EvalLookup, request: RequestValues, now: Date) {
    this.inner = inner;
    this.request = request;
    this.now = now;
  }
  get(collection: string, id: unknown): Promise<Rec | null> {
    if (typeof id !== 'string' || id === '') return Promise.resolve(null);
    const k = `${collection}\u0000${id}`;
    let p = this.gets.get(k);
    if (!p) {
      p = this.inner.get(collection, id).then((r) => r ?? null);
      this.gets.set(k, p);
    }
    return p;
  }
  list(collection: string): Promise<Rec[]> {
    let p = this.lists.get(collection);
    if (!p) {
      p = this.inner.list(collection);
      this.lists.set(collection, p);
    }
    return p;
  }
}

function field(rec: Rec | null, name: string): unknown {
  if (!rec || !Object.hasOwn(rec, name)) return undefined;
  return rec[name];
}

/** Whether the node's guard lets the caller read `rec` (memoised per guard and record). */
function admits(n: JoinNode, rec: Rec, memo: Memo): Promise<boolean> {
  const g = n.guard;
  if (!g) return Promise.resolve(true);
  if (g === 'deny') return Promise.resolve(false);
  // one guard per (collection, action) and expression: the node kind names the action
  const k = `${n.kind === 'collection' ? 'list' : 'view'}\u0000${n.collection}\u0000${String(rec.id)}`;
  let p = memo.admitted.get(k);
  if (!p) {
    p = run(g, rec, memo);
    memo.admitted.set(k, p);
  }
  return p;
}

async function admitted(n: JoinNode, rec: Rec | null, memo: Memo): Promise<Rec | null> {
  return rec && (await admits(n, rec, memo)) ? rec : null;
}

/** The records a node can stand for, given its parent record (LEFT JOIN semantics: never empty). */
async function candidates(n: JoinNode, parent: Rec | null, memo: Memo): Promise<(Rec | null)[]> {
  if (n.kind === 'collection') {
    let all = await memo.list(n.collection);
    if (n.guard) {
      const k = `list\u0000${n.collection}`;
      let visible = memo.visibleLists.get(k);
      if (!visible) {
        const list = all;
        visible = Promise.all(list.map((r) => admits(n, r, memo))).then((ok) => list.filter((_, i) => ok[i]));
        memo.visibleLists.set(k, visible);
      }
      all = await visible;
    }
    return all.length ? all : [null];
  }
  if (!parent) return [null];
  const v = field(parent, n.field!);
  if (n.kind === 'single') return [await admitted(n, await memo.get(n.collection, v), memo)];
  const ids = Array.isArray(v) ? v : [];
  if (!ids.length) return [null];
  return Promise.all(ids.map(async (id) => admitted(n, await memo.get(n.collection, id), memo)));
}

function jsonAt(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return null;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return null;
      cur = cur[Number(seg)];
    } else {
      cur = Object.hasOwn(cur, seg) ? (cur as Rec)[seg] : null;
    }
    if (cur === undefined) return null;
  }
  return cur ?? null;
}

/** The items one record contributes for a column side. */
function columnItems(c: ColumnRef, rec: Rec | null): Item[] {
  const kind = columnSideType(c);
  if (!rec) return [{ v: null, col: kind, noCoalesce: c.kind === 'json' && c.modifier !== 'lower' && !c.fieldMulti }];
  let raw = field(rec, c.column);
  if (c.modifier === 'length') return [{ v: Array.isArray(raw) ? raw.length : 0, col: 'number' }];
  if (c.fieldMulti) {
    const arr = Array.isArray(raw) ? raw : [];
    const list = arr.length ? arr : [null];
    return list.map((x) => {
      const t = toText(x);
      return { v: t !== null && c.modifier === 'lower' ? asciiLower(t) : t, col: 'text' };
    });
  }
  if (c.kind === 'json') {
    const v = jsonAt(raw ?? null, c.jsonPath);
    if (c.modifier === 'lower') {
      const t = jsonAs(v, 'text');
      return [{ v: t === null ? null : asciiLower(t as string), col: 'text' }];
    }
    return [{ v, col: 'json', noCoalesce: true }];
  }
  if (raw === undefined || raw === null) raw = c.kind === 'number' ? 0 : c.kind === 'bool' ? false : '';
  if (c.modifier === 'lower') return [{ v: asciiLower(toText(raw) ?? ''), col: 'text' }];
  return [{ v: raw, col: c.kind }];
}

interface Env {
  record: Rec;
  request: RequestValues;
  memo: Memo;
  now: Date;
  assignment: Map<string, Rec | null>;
}

/** Every record a node chain reaches from the root (independent of the correlated assignment). */
async function chainRecords(node: JoinNode | null, env: Env): Promise<(Rec | null)[]> {
  if (!node) return [env.record];
  const parents = node.kind === 'collection' ? [null] : await chainRecords(node.parent, env);
  const out: (Rec | null)[] = [];
  for (const p of parents) out.push(...(await candidates(node, p, env.memo)));
  if (out.length > RULE_LIMITS.maxCombinations) throw invalid('rule touches too many related records');
  return out;
}

async function sideItems(s: Side, correlated: boolean, env: Env): Promise<Item[]> {
  if (s.t === 'value') return operandValues(s.operand, env.request, env.now).map((v) => ({ v }));
  let recs: (Rec | null)[];
  if (correlated && s.chainMulti && s.node) recs = [env.assignment.get(s.node.key) ?? null];
  else recs = await chainRecords(s.node, env);
  return recs.flatMap((r) => columnItems(s, r));
}

async function leaf(p: LeafPlan, env: Env): Promise<boolean> {
  if (p.principal && !principalIs(env.request.auth, p.principal)) return false;
  const ls = await sideItems(p.left, p.correlated, env);
  const rs = await sideItems(p.right, p.correlated, env);
  if (p.any) return ls.some((l) => rs.some((r) => compareItems(p.op, l, r)));
  return ls.every((l) => rs.every((r) => compareItems(p.op, l, r)));
}

async function evaluate(p: Plan, env: Env, cache: Map<LeafPlan, boolean>): Promise<boolean> {
  if (p.type !== 'leaf') {
    const l = await evaluate(p.left, env, cache);
    if (p.type === 'and' ? !l : l) return l;
    return evaluate(p.right, env, cache);
  }
  if (p.correlated) return leaf(p, env);
  // uncorrelated leaves do not depend on the join row: evaluate once per call
  let v = cache.get(p);
  if (v === undefined) {
    v = await leaf(p, env);
    cache.set(p, v);
  }
  return v;
}

/** Evaluate a resolved plan for `record` (the expression itself, or a join's guard on a related record). */
async function run(rp: ResolvedPlan, record: Rec, memo: Memo): Promise<boolean> {
  const env: Env = { record, request: memo.request, memo, now: memo.now, assignment: new Map() };
  const cache = new Map<LeafPlan, boolean>();
  let tried = 0;
  // Enumerate one related record per correlated node (parents first), like the SQL join rows.
  const walk = async (i: number): Promise<boolean> => {
    if (i === rp.nodes.length) {
      if (++tried > RULE_LIMITS.maxCombinations) throw invalid('rule touches too many related records');
      return evaluate(rp.plan, env, cache);
    }
    const n = rp.nodes[i];
    const parent = n.kind === 'collection' ? null : n.parent ? env.assignment.get(n.parent.key) ?? null : record;
    for (const c of await candidates(n, parent, env.memo)) {
      env.assignment.set(n.key, c);
      if (await walk(i + 1)) return true;
    }
    return false;
  };
  return walk(0);
}

/** Build the predicate for a resolved plan. */
export function planToPredicate(rp: ResolvedPlan) {
  return (record: Rec, request: RequestValues, lookup: EvalLookup, now: Date = new Date()): Promise<boolean> =>
    run(rp, record, new Memo(lookup, request, now));
}
