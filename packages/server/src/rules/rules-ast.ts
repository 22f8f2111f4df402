/**
 * The rule/filter AST (PocketBase filter syntax) and its canonical printer.
 * The AST is plain JSON-able data: parse once, compile many (to SQL and to an in-memory predicate).
 */

/** A comparison operator, without the any-of `?` prefix. */
export type CompareOp = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~';

/** Field modifiers (`field:length`). `isset` is only valid on `@request.*` operands. */
export type Modifier = 'isset' | 'length' | 'each' | 'lower';

/** The `@…` datetime macros PocketBase defines (UTC). */
export const MACRO_NAMES = [
  '@now', '@yesterday', '@tomorrow', '@second', '@minute', '@hour', '@weekday', '@day', '@month', '@year',
  '@todayStart', '@todayEnd', '@monthStart', '@monthEnd', '@yearStart', '@yearEnd',
] as const;

/** One datetime macro name. */
export type MacroName = (typeof MACRO_NAMES)[number];

/** Which part of the request a `@request.*` operand reads. (`@request.data.*` is parsed as `body`.) */
export type RequestSource = 'auth' | 'body' | 'query' | 'headers' | 'method' | 'context';

/**
 * One side of a comparison. Optional members (`modifier`, `alias`) are absent, never `undefined`,
 * so that ASTs compare with deep equality.
 */
export type Operand =
  | { type: 'string'; value: string }
  | { type: 'number'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'null' }
  | { type: 'macro'; name: MacroName }
  /** A field of the record, possibly through relations and into json: `author.team.name`, `data.a.0`. */
  | { type: 'field'; path: string[]; modifier?: Modifier }
  /** `@request.<source>.<path>`; `path` is empty for `method` and `context`. */
  | { type: 'request'; source: RequestSource; path: string[]; modifier?: Modifier }
  /** `@collection.<collection>[:alias].<path>`. */
  | { type: 'collection'; collection: string; alias?: string; path: string[]; modifier?: Modifier };

/** A comparison; `any` is the `?op` (at least one element matches) form. */
export interface CompareExpr {
  type: 'compare';
  op: CompareOp;
  any: boolean;
  left: Operand;
  right: Operand;
}

/** `&&` / `||`, left-associative, `&&` binding tighter than `||`. */
export interface LogicalExpr {
  type: 'and' | 'or';
  left: Expr;
  right: Expr;
}

/** A parsed filter or rule expression. */
export type Expr = CompareExpr | LogicalExpr;

/** Hard limits that keep hostile input cheap (checked by the parser and the compilers). */
export const RULE_LIMITS = {
  /** Maximum source length in characters. */
  maxLength: 3500,
  /** Maximum parenthesis nesting. */
  maxDepth: 16,
  /** Maximum number of comparisons in one expression. */
  maxComparisons: 200,
  /** Maximum segments of one operand path. */
  maxPathSegments: 12,
  /** Maximum relation hops in one operand path (PocketBase: 6). */
  maxRelationHops: 6,
  /** Maximum relation hops plus `@collection` references over the whole expression. */
  maxJoins: 24,
  /** Maximum elements of one request array taking part in a comparison. */
  maxValueElements: 100,
  /** Maximum row combinations the in-memory evaluator tries for correlated (joined) references. */
  maxCombinations: 20000,
} as const;

/**
 * Tighter limits for CLIENT filters (the `filter` parameter of a non-superuser's list request); the
 * schema owner's rules keep {@link RULE_LIMITS}. A `@collection` join is a cross product with a whole
 * table and every join multiplies the rows the database visits per listed record, so a client gets a
 * small budget: every example filter of PocketBase's docs fits in it (docs/rules.md, "Cost").
 */
export const CLIENT_FILTER_LIMITS = {
  /** Distinct `@collection` joins (each alias is one; PocketBase's alias example needs 2). */
  maxCollectionJoins: 2,
  /** Relation hops plus `@collection` joins over the whole filter (the guards' own joins not counted). */
  maxJoins: 8,
  /**
   * Ceiling of the estimated rows visited per listed record: a `@collection` join counts
   * {@link CLIENT_FILTER_LIMITS.collectionRows}, a multi relation hop its `maxSelect`, a single hop 1;
   * joins read together multiply. Two correlated `@collection` joins are exactly at the ceiling.
   */
  maxCost: 1_000_000,
  /** What one `@collection` join (an unbounded table) counts in the estimate. */
  collectionRows: 1000,
  /** Fan-out of a multi relation whose `maxSelect` the schema does not say. */
  defaultFanOut: 10,
} as const;

function printString(s: string): string {
  return '"' + s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"';
}

function withModifier(text: string, m: Modifier | undefined): string {
  return m ? `${text}:${m}` : text;
}

/** Canonical text of one operand. */
export function printOperand(o: Operand): string {
  switch (o.type) {
    case 'string': return printString(o.value);
    case 'number': return String(o.value);
    case 'bool': return o.value ? 'true' : 'false';
    case 'null': return 'null';
    case 'macro': return o.name;
    case 'field': return withModifier(o.path.join('.'), o.modifier);
    case 'request': return withModifier(['@request', o.source, ...o.path].join('.'), o.modifier);
    case 'collection':
      return withModifier(['@collection', o.alias ? `${o.collection}:${o.alias}` : o.collection, ...o.path].join('.'), o.modifier);
  }
}

/**
 * Canonical text of an expression: one space around operators, parentheses only where needed.
 * `parseExpression(printExpression(e))` deep-equals `e`.
 *
 * @example
 * printExpression(parseExpression('(a=1&&b ?~ "x")')) // 'a = 1 && b ?~ "x"'
 */
export function printExpression(expr: Expr): string {
  if (expr.type === 'compare') {
    return `${printOperand(expr.left)} ${expr.any ? '?' : ''}${expr.op} ${printOperand(expr.right)}`;
  }
  const op = expr.type === 'and' ? '&&' : '||';
  // `&&` binds tighter; both are left-associative, so a right child of the same kind needs parentheses.
  const left = expr.left.type === 'or' && expr.type === 'and' ? `(${printExpression(expr.left)})` : printExpression(expr.left);
  const right = expr.right.type !== 'compare' && (expr.right.type === expr.type || expr.type === 'and')
    ? `(${printExpression(expr.right)})`
    : printExpression(expr.right);
  return `${left} ${op} ${right}`;
}
