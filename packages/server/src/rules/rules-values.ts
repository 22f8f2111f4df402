/**
 * Value semantics shared by the SQL compiler and the in-memory evaluator, so the two agree by
 * construction: how a comparison picks its domain (text, number, bool), how values are coerced,
 * null handling, LIKE patterns, macros and `@request.*` lookups.
 */
import type { CompareOp, MacroName, Operand, RequestSource } from './rules-ast.ts';
import { RULE_LIMITS } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';

/** The kind of a column value as compared (date is text; multi elements are text). */
export type ColumnKind = 'text' | 'number' | 'bool' | 'json';

/** Domain a comparison is evaluated in. `jsonnull`: a json value compared with null (`IS NULL`). */
export type Domain = 'text' | 'number' | 'bool' | 'jsonnull';

/** What one side of a comparison is, for choosing the domain: a column of a kind, or a known value. */
export type SideType = { col: ColumnKind } | { value: unknown };

const NUMERIC = /^\s*-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** ASCII-only lower-casing (what SQLite's lower()/LIKE do, and what the PostgreSQL dialect copies). */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Text form of a value: numbers as JS prints them, booleans `true`/`false`, objects as JSON, null stays null. */
export function toText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v) ?? null;
}

/** Coercion of a value into a domain: `{ ok: false }` when it has no meaning there (`"abc"` as a number). */
export function coerce(domain: 'text' | 'number' | 'bool', v: unknown): { ok: true; v: string | number | boolean | null } | { ok: false } {
  if (v === null || v === undefined) return { ok: true, v: null };
  switch (domain) {
    case 'text':
      return { ok: true, v: toText(v) };
    case 'number':
      if (typeof v === 'number') return Number.isFinite(v) ? { ok: true, v } : { ok: false };
      if (typeof v === 'boolean') return { ok: true, v: v ? 1 : 0 };
      if (typeof v === 'string' && NUMERIC.test(v)) {
        const n = Number(v);
        return Number.isFinite(n) ? { ok: true, v: n === 0 ? 0 : n } : { ok: false };
      }
      return { ok: false };
    case 'bool':
      if (typeof v === 'boolean') return { ok: true, v };
      if (typeof v === 'number') return { ok: true, v: v !== 0 };
      if (v === 'true' || v === '1') return { ok: true, v: true };
      if (v === 'false' || v === '0' || v === '') return { ok: true, v: false };
      return { ok: false };
  }
}

function valueDomain(v: unknown): 'text' | 'number' | 'bool' | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return 'text';
}

const LIKE_OPS = new Set<CompareOp>(['~', '!~']);

/**
 * The domain of a comparison, or a message when the comparison is malformed (e.g. a number field
 * compared with a text field, or `~` on a number field). Columns decide over values; two values
 * decide by their JS types (a number next to a numeric string compares as numbers).
 */
export function pairDomain(l: SideType, r: SideType, op: CompareOp): Domain | { error: string } {
  const like = LIKE_OPS.has(op);
  if ('col' in l && 'col' in r) {
    if (like) {
      if (l.col === 'number' || l.col === 'bool' || r.col === 'number' || r.col === 'bool') return { error: `operator ${op} needs text operands` };
      return 'text';
    }
    if (l.col === r.col) return l.col === 'json' ? 'text' : l.col;
    if (l.col === 'json') return r.col as Domain;
    if (r.col === 'json') return l.col as Domain;
    return { error: `cannot compare a ${l.col} field with a ${r.col} field` };
  }
  if ('col' in l || 'col' in r) {
    const col = ('col' in l ? l.col : (r as { col: ColumnKind }).col);
    const value = 'col' in l ? (r as { value: unknown }).value : l.value;
    if (like) {
      if (col === 'number' || col === 'bool') return { error: `operator ${op} needs a text field` };
      return 'text';
    }
    if (col !== 'json') return col;
    return valueDomain(value) ?? 'jsonnull';
  }
  if (like) return 'text';
  const a = l.value, b = r.value;
  const da = valueDomain(a), db = valueDomain(b);
  if (da === null && db === null) return 'text';
  if (da === null) return db!;
  if (db === null) return da;
  if (da === db) return da;
  if ((da === 'number' && coerce('number', b).ok) || (db === 'number' && coerce('number', a).ok)) return 'number';
  if ((da === 'bool' && (b === 'true' || b === 'false')) || (db === 'bool' && (a === 'true' || a === 'false'))) return 'bool';
  return 'text';
}

/** Code point order (= UTF-8 byte order, SQLite BINARY, PostgreSQL COLLATE "C"). */
export function compareText(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function unescapedIndexOf(s: string, ch: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') { i++; continue; }
    if (s[i] === ch) return i;
  }
  return -1;
}

/** True when `s` ends in a backslash that escapes nothing (a LIKE pattern must not). */
function endsWithLoneEscape(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

/**
 * The LIKE pattern for `field ~ value` (PocketBase): a value without an unescaped `%` is a substring
 * search, wrapped in `%…%` with its unescaped `_` escaped; a value with `%` is used as a pattern.
 * A trailing lone backslash is made literal, so no pattern is ever malformed.
 */
export function likePattern(value: string): string {
  let v = value;
  if (endsWithLoneEscape(v)) v += '\\';
  if (unescapedIndexOf(v, '%') >= 0) return v;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '\\') { out += v[i] + (v[i + 1] ?? ''); i++; continue; }
    out += v[i] === '_' ? '\\_' : v[i];
  }
  return `%${out}%`;
}

/** LIKE with `\` escape, ASCII case folding, `_` = one code point, `%` = any run. Iterative (no regex backtracking blow-up). */
export function likeMatch(value: string, pattern: string): boolean {
  const s = Array.from(asciiLower(value));
  const toks: { t: 'lit' | 'one' | 'any'; c?: string }[] = [];
  const p = Array.from(asciiLower(pattern));
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && i + 1 < p.length) { toks.push({ t: 'lit', c: p[++i] }); continue; }
    if (c === '%') { if (toks.at(-1)?.t !== 'any') toks.push({ t: 'any' }); continue; }
    toks.push(c === '_' ? { t: 'one' } : { t: 'lit', c });
  }
  let si = 0, ti = 0, starT = -1, starS = 0;
  while (si < s.length) {
    const tk = toks[ti];
    if (tk && (tk.t === 'one' || (tk.t === 'lit' && tk.c === s[si]))) { si++; ti++; continue; }
    if (tk && tk.t === 'any') { starT = ti++; starS = si; continue; }
    if (starT >= 0) { ti = starT + 1; si = ++starS; continue; }
    return false;
  }
  while (ti < toks.length && toks[ti].t === 'any') ti++;
  return ti === toks.length;
}

/** One side value prepared for a comparison: its raw value and whether null reads as `''` in text. */
export interface Item {
  v: unknown;
  /** Column kind, or undefined for a request/literal value. */
  col?: ColumnKind;
  /** True when the value may be NULL and must not be read as `''` (json columns). */
  noCoalesce?: boolean;
}

/** Convert a json column value to a domain (what the dialect's `jsonValue` does in SQL). */
export function jsonAs(v: unknown, domain: 'text' | 'number' | 'bool'): string | number | boolean | null {
  switch (domain) {
    case 'text':
      return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : null;
    case 'number': return typeof v === 'number' ? v : null;
    case 'bool': return typeof v === 'boolean' ? v : null;
  }
}

function sideValue(it: Item, domain: 'text' | 'number' | 'bool'): string | number | boolean | null {
  if (it.col === 'json') return jsonAs(it.v, domain);
  if (it.col !== undefined) return (it.v ?? null) as string | number | boolean | null;
  const c = coerce(domain, it.v);
  return c.ok ? c.v : null;
}

/**
 * Compare two prepared items with PocketBase's null rules: in text, NULL reads as `''` for `=`/`!=`
 * (except json values); `=` is null-safe; `<`, `>`, `~` with a NULL side are false.
 * `patternIsColumn`: the right side of `~` is a column, used as `'%' || col || '%'`.
 */
export function compareItems(op: CompareOp, l: Item, r: Item): boolean {
  const d = pairDomain(sideType(l), sideType(r), op);
  if (typeof d !== 'string') return false;
  if (d === 'jsonnull') {
    if (op !== '=' && op !== '!=') return false;
    const json = l.col === 'json' ? l.v : r.v;
    const isNull = json === null || json === undefined;
    return op === '=' ? isNull : !isNull;
  }
  let a = sideValue(l, d);
  let b = sideValue(r, d);
  if (op === '~' || op === '!~') {
    if (a === null) return false;
    let pattern: string;
    if (r.col !== undefined) {
      if (b === null) return false;
      pattern = `%${b as string}%`;
    } else {
      pattern = likePattern((b as string | null) ?? '');
    }
    const m = likeMatch(a as string, pattern);
    return op === '~' ? m : !m;
  }
  if (op === '=' || op === '!=') {
    if (d === 'text') {
      if (a === null && !l.noCoalesce) a = '';
      if (b === null && !r.noCoalesce) b = '';
    }
    const eq = a === b;
    return op === '=' ? eq : !eq;
  }
  if (a === null || b === null) return false;
  const c = d === 'text' ? compareText(a as string, b as string) : Number(a) - Number(b);
  switch (op) {
    case '>': return c > 0;
    case '>=': return c >= 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
  }
  return false;
}

/** The domain-deciding type of an item. */
export function sideType(it: Item): SideType {
  return it.col !== undefined ? { col: it.col } : { value: it.v };
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Basalt's date format: `2024-01-02 03:04:05.678Z` (UTC; sorts as text). */
export function formatDate(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

/** The value of a datetime macro at `now` (PocketBase's definitions, UTC). */
export function macroValue(name: MacroName, now: Date): string | number {
  const y = now.getUTCFullYear(), m = now.getUTCMonth(), d = now.getUTCDate();
  switch (name) {
    case '@now': return formatDate(now);
    case '@yesterday': return formatDate(new Date(now.getTime() - 86_400_000));
    case '@tomorrow': return formatDate(new Date(now.getTime() + 86_400_000));
    case '@second': return now.getUTCSeconds();
    case '@minute': return now.getUTCMinutes();
    case '@hour': return now.getUTCHours();
    case '@weekday': return now.getUTCDay();
    case '@day': return d;
    case '@month': return m + 1;
    case '@year': return y;
    case '@todayStart': return formatDate(new Date(Date.UTC(y, m, d)));
    case '@todayEnd': return formatDate(new Date(Date.UTC(y, m, d, 23, 59, 59, 999)));
    case '@monthStart': return formatDate(new Date(Date.UTC(y, m, 1)));
    case '@monthEnd': return formatDate(new Date(Date.UTC(y, m + 1, 0, 23, 59, 59, 999)));
    case '@yearStart': return formatDate(new Date(Date.UTC(y, 0, 1)));
    case '@yearEnd': return formatDate(new Date(Date.UTC(y, 11, 31, 23, 59, 59, 999)));
  }
}

/** The request a rule is evaluated for: what `@request.*` operands read. */
export interface RequestContext {
  /** The signed-in record as the API returns it (id, collectionName, roles, …), or null. */
  auth: Record<string, unknown> | null;
  body: Record<string, unknown>;
  query: Record<string, string>;
  /** Header names are matched case-insensitively with `-` read as `_` (`@request.headers.x_token`). */
  headers: Record<string, string>;
  method: string;
  /** `default`, `realtime`, `oauth2`, `protectedFile`, … */
  context: string;
}

/** Internal name of {@link RequestContext}. */
export type RequestValues = RequestContext;

const MISSING = Symbol('missing');

function own(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== 'object') return MISSING;
  if (Array.isArray(obj)) return /^\d+$/.test(key) && Number(key) < obj.length ? obj[Number(key)] : MISSING;
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : MISSING;
}

function normalizeHeader(name: string): string {
  return name.toLowerCase().replaceAll('-', '_');
}

/** Read a `@request.*` value, or MISSING. */
function requestRaw(source: RequestSource, path: string[], req: RequestValues): unknown {
  switch (source) {
    case 'method': return req.method ?? '';
    case 'context': return req.context ?? '';
    case 'headers': {
      const want = normalizeHeader(path[0]);
      for (const [k, v] of Object.entries(req.headers ?? {})) if (normalizeHeader(k) === want) return v;
      return MISSING;
    }
    case 'query': return own(req.query ?? {}, path[0]);
    case 'auth':
    case 'body': {
      let cur: unknown = source === 'auth' ? req.auth : req.body;
      if (cur === null || cur === undefined) return MISSING;
      for (const seg of path) {
        cur = own(cur, seg);
        if (cur === MISSING) return MISSING;
      }
      return cur;
    }
  }
}

/**
 * The values a non-column operand stands for: literals, macros and `@request.*` (with modifiers).
 * An array stands for its elements (an empty one for a single null, like an empty multi field).
 */
export function operandValues(o: Operand, req: RequestValues, now: Date): unknown[] {
  switch (o.type) {
    case 'string':
    case 'number':
    case 'bool':
      return [o.value];
    case 'null': return [null];
    case 'macro': return [macroValue(o.name, now)];
    case 'request': {
      const raw = requestRaw(o.source, o.path, req);
      if (o.modifier === 'isset') return [raw !== MISSING];
      const v = raw === MISSING || raw === undefined ? null : raw;
      if (o.modifier === 'length') return [Array.isArray(v) ? v.length : v === null ? 0 : 1];
      const list = Array.isArray(v) ? (v.length ? v : [null]) : [v];
      if (list.length > RULE_LIMITS.maxValueElements) throw invalid(`too many values in a request array (max ${RULE_LIMITS.maxValueElements})`);
      // PostgreSQL cannot hold NUL in text (it answers an error): refuse before anything reaches SQL.
      if (list.some((x) => typeof x === 'string' && x.includes('\u0000'))) throw invalid(`@request.${o.source} holds a NUL character`);
      if (o.modifier === 'lower') return list.map((x) => (x === null ? null : asciiLower(toText(x) ?? '')));
      return list;
    }
    default:
      throw new Error('column operand has no static value');
  }
}

/**
 * Whether the caller is a record of auth collection `target` (what `@request.auth.collectionName`
 * and, when the principal carries it, `collectionId` say). Anonymous callers and API keys are not.
 */
export function principalIs(auth: Record<string, unknown> | null, target: { name: string; id: string }): boolean {
  if (!auth) return false;
  if (auth.collectionName !== target.name) return false;
  return auth.collectionId === undefined || auth.collectionId === target.id;
}
