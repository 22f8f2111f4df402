/**
 * The rule and filter expression language (PocketBase syntax), parsed once into an AST and compiled
 * to parameterised SQL per dialect (for queries) and to an in-memory predicate (for realtime events
 * and write checks). A property test keeps the two compilers in agreement.
 *
 * @example
 * const expr = parseExpression('status = "published" && author = @request.auth.id');
 * const { sql, params } = compileToSql(expr, { dialect, schema, collection: 'posts', tableAlias: '"posts"', request, allowHidden: false });
 * const allowed = await compileToPredicate(expr, { schema, collection: 'posts', allowHidden: false })(record, request, lookup);
 */
import type { Dialect, SqlValue } from '../db/index.ts';
import type { Expr } from './rules-ast.ts';
import { planToPredicate } from './rules-eval.ts';
import { resolvePlan, type AccessAction, type PlanFieldInfo, type PlanSchema } from './rules-plan.ts';
import { planToSql } from './rules-sql.ts';

export type { Expr, Operand, CompareExpr, LogicalExpr, CompareOp, Modifier, MacroName, RequestSource } from './rules-ast.ts';
export { printExpression, MACRO_NAMES, RULE_LIMITS, CLIENT_FILTER_LIMITS } from './rules-ast.ts';
export { parseExpression } from './rules-parser.ts';
export { formatDate, macroValue, likePattern } from './rules-values.ts';
import type { RequestContext } from './rules-values.ts';
export type { RequestContext };

/** What the compilers need to know about a field. `kind` is the stored kind; `multi` = JSON array of strings. */
export type FieldInfo = PlanFieldInfo;
/** Schema access for the compilers (implemented by the records layer). */
export type SchemaLookup = PlanSchema;
/** Which access rule guards a join of a client filter. */
export type { AccessAction };


/** Options of {@link compileToSql}. */
export interface SqlCompileOptions {
  dialect: Dialect;
  schema: SchemaLookup;
  /** Root collection name. */
  collection: string;
  /** How the root table is referred to in the surrounding query, already quoted (`"posts"`). */
  tableAlias: string;
  request: RequestContext;
  /** Allow filtering on hidden fields (superusers, system rules). */
  allowHidden: boolean;
  /**
   * A client's filter (a non-superuser's `filter` parameter), not a rule of the schema owner: every
   * relation hop / `@collection` join only reaches records the caller may view / list, and the
   * client budget of {@link CLIENT_FILTER_LIMITS} applies (`filter_too_expensive`).
   */
  client?: boolean;
  /** The time `@now` & co. read; default: now. */
  now?: Date;
}

/**
 * Compile an expression to a boolean SQL expression for WHERE, with `?` placeholders only; every
 * user value is a param. Throws `filter_invalid` for unknown fields/collections, hidden fields,
 * malformed comparisons and limits.
 *
 * @example
 * const { sql, params } = compileToSql(parseExpression('title ~ "abc"'), opts);
 * await db.all(`SELECT id FROM "posts" WHERE ${sql}`, params);
 */
export function compileToSql(expr: Expr, opts: SqlCompileOptions): { sql: string; params: SqlValue[] } {
  const rp = resolvePlan(expr, opts.schema, opts.collection, { allowHidden: opts.allowHidden, client: opts.client });
  return planToSql(rp, { dialect: opts.dialect, tableAlias: opts.tableAlias, request: opts.request, now: opts.now ?? new Date() });
}

/**
 * Async access to related data for the in-memory predicate (records in API shape, all of them: a
 * client predicate applies the access guards itself, like the SQL).
 */
export interface RecordLookup {
  get(collection: string, id: string): Promise<Record<string, unknown> | undefined>;
  /** All records of a collection, for `@collection` references. */
  list(collection: string): Promise<Record<string, unknown>[]>;
}

/** Options of {@link compileToPredicate}. */
export interface PredicateCompileOptions {
  schema: SchemaLookup;
  collection: string;
  allowHidden: boolean;
  /** A client's filter: the same guards and budget as {@link SqlCompileOptions.client}. */
  client?: boolean;
}

/**
 * An in-memory rule check. Resolves to the same answer `compileToSql` gives for the stored record;
 * rejects with `filter_invalid` when a request value cannot be used or a limit is exceeded
 * (callers deny).
 */
export type Predicate = (record: Record<string, unknown>, request: RequestContext, lookup: RecordLookup, now?: Date) => Promise<boolean>;

/**
 * Compile an expression to an in-memory predicate (schema checks happen now, once).
 *
 * @example
 * const canView = compileToPredicate(parseExpression(rule), { schema, collection: 'posts', allowHidden: false });
 * if (!(await canView(record, request, lookup))) throw new BasaltError('rule_denied');
 */
export function compileToPredicate(expr: Expr, opts: PredicateCompileOptions): Predicate {
  return planToPredicate(resolvePlan(expr, opts.schema, opts.collection, { allowHidden: opts.allowHidden, client: opts.client }));
}
