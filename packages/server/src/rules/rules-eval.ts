/**
 * Plan → async in-memory predicate over an API-shaped record. Mirrors rules-sql.ts exactly:
 * correlated references enumerate one combination of related records at a time (like the SQL join
 * rows), an empty array reads as one null, a plain op on several values needs every value to match.
 */
import { RULE_LIMITS } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';
import { type ColumnRef, type JoinNode, type LeafPlan, type Plan, type ResolvedPlan, type Side, columnSideType } from './rules-plan.ts';
import { asciiLower, compareItems, jsonAs, operandValues, toText, type Item, type RequestValues } from './rules-values.ts';

type Rec = Record<string, unknown>;

/** Related-record access for the evaluator (see the public `RecordLookup`). */
export interface EvalLookup {
  get(collection: string, id: string): Promise<Rec | undefined>;
  list(collection: string): Promise<Rec[]>;
}

/** Per-call memo so each related record / collection is fetched once. */
class Memo {
  readonly inner: EvalLookup;
  readonly gets = new Map<string, Promise<Rec | null>>();
  readonly lists = new Map<string, Promise<Rec[]>>();
  constructor(inner: EvalLookup) {
    this.inner = inner;
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

/** The records a node can stand for, given its parent record (LEFT JOIN semantics: never empty). */
async function candidates(n: JoinNode, parent: Rec | null, memo: Memo): Promise<(Rec | null)[]> {
  if (n.kind === 'collection') {
    const all = await memo.list(n.collection);
    return all.length ? all : [null];
  }
  if (!parent) return [null];
  const v = field(parent, n.field!);
  if (n.kind === 'single') return [await memo.get(n.collection, v)];
  const ids = Array.isArray(v) ? v : [];
  if (!ids.length) return [null];
  return Promise.all(ids.map((id) => memo.get(n.collection, id)));
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

/** Build the predicate for a resolved plan. */
export function planToPredicate(rp: ResolvedPlan) {
  return async (record: Rec, request: RequestValues, lookup: EvalLookup, now: Date = new Date()): Promise<boolean> => {
    const env: Env = { record, request, memo: new Memo(lookup), now, assignment: new Map() };
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
  };
}
