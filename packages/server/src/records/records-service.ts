/**
 * The records service: the one door to the data (ARCHITECTURE invariant 1). Every surface — REST,
 * batch, later GraphQL, realtime and functions — reads and writes records here, with a principal,
 * and every rule is enforced here.
 */
import { BasaltError, isBasaltError } from '../errors/index.ts';
import { appendChanges, type Database, type Executor, type SqlValue, type NewChange } from '../db/index.ts';
import { ID_PATTERN, formatTimestamp } from '../tools/index.ts';
import { authEmailMatch, isAuthEmailField, storageShape, zeroValue, type Collection, type CollectionRegistry, type Field, type RelationField, type Rule, type RuleKey } from '../schema/index.ts';
import { compileToSql, parseExpression, type Expr, type RequestContext } from '../rules/index.ts';
import { encodeValue, rowToRecord, selectColumns, stripHidden, isSecretField, sealSecret, type ApiRecord } from './record-codec.ts';
import type { SecretBox } from '../secrets/index.ts';
import { resolveWrite, finishWrite, castFormValues, type ResolvedWrite } from './record-validate.ts';
import { parseSort, orderBy, intParam, encodeCursor, cursorCondition, DEFAULT_PER_PAGE, MAX_PER_PAGE } from './record-query.ts';
import { parseFieldsParam, pickFields } from './record-fields.ts';
import { schemaLookup } from './record-schema-lookup.ts';
import { rowSerializer } from './record-serializer.ts';
import { RecordHooks, type RecordOperation } from './record-hooks.ts';
import type { Principal } from './principal.ts';
import { refuseClientAuthId, registerAuthRecordIdHooks } from './auth-record-ids.ts';

/** Who asks, and the request values rules may refer to (`@request.*`). */
export interface CallContext {
  principal: Principal;
  request: RequestContext;
}

/** List parameters, as PocketBase names them (plus Basalt's `cursor`). */
export interface ListParams {
  filter?: string;
  sort?: string;
  page?: string;
  perPage?: string;
  skipTotal?: string;
  fields?: string;
  expand?: string;
  cursor?: string;
}

/** A list answer. `totalItems`/`totalPages` are -1 with `skipTotal`. */
export interface ListResult {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: unknown[];
  /** Present when more rows follow (keyset pagination). */
  nextCursor?: string;
}

/** Output options for single-record answers. */
export interface OutputParams {
  expand?: string;
  fields?: string;
}

/** Deepest `expand` path, as PocketBase. */
const MAX_EXPAND_DEPTH = 6;
const MAX_EXPAND_PATHS = 32;
/** Longest filter text. */
const MAX_FILTER_LENGTH = 3500;
/** Ids per IN (…) query. */
const IN_CHUNK = 500;
/** How deep cascading deletes may go before we refuse (cycles are caught separately). */
const MAX_CASCADE_DEPTH = 16;
/** Attempts of a write transaction that PostgreSQL rolled back for a deadlock or serialization failure. */
const TX_ATTEMPTS = 4;

/** Is `id` of a shape that can exist? Anything else is "not found" without touching the database. */
function plausibleId(id: string): boolean {
  return ID_PATTERN.test(id) || /^[a-zA-Z0-9_]{1,64}$/.test(id);
}

type RuleSql = { kind: 'allow' } | { kind: 'deny' } | { kind: 'sql'; sql: string; params: SqlValue[] };
const ALLOW: RuleSql = Object.freeze({ kind: 'allow' });
const DENY: RuleSql = Object.freeze({ kind: 'deny' });

/** The records service. */
export class RecordsService {
  readonly db: Database;
  readonly registry: CollectionRegistry;
  /** Record write hooks, run inside the write transaction. */
  readonly hooks = new RecordHooks();
  /** Parsed expressions by text: parse once, compile many. */
  readonly #parsed = new Map<string, Expr>();

  /** Seals and opens `secret` field values (encryption at rest). */
  readonly #secrets: SecretBox;

  constructor(db: Database, registry: CollectionRegistry, secrets: SecretBox) {
    this.db = db;
    this.registry = registry;
    this.#secrets = secrets;
    registerAuthRecordIdHooks(this.hooks);
  }

  /** A stored row as the API shows it, secret fields decrypted (see {@link rowToRecord}). */
  #decode(c: Collection, row: Record<string, unknown>): ApiRecord {
    return rowToRecord(c, row, this.#secrets);
  }

  /** An API value (validated) → bound parameter of a column; secret values are sealed for record `id`. */
  #encode(c: Collection, f: Field, v: unknown, id: string): SqlValue {
    return f.type === 'secret' ? sealSecret(this.#secrets, c, id, f, v == null ? '' : String(v)) : encodeValue(f, v);
  }

  /** Cast a form's string values to the collection's field types (multipart and urlencoded bodies). */
  castForm(collection: string, body: unknown): unknown {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
    return castFormValues(this.registry.get(collection), body as Record<string, unknown>);
  }

  /** Parse an expression with a bounded cache. */
  parse(text: string): Expr {
    let e = this.#parsed.get(text);
    if (!e) {
      e = parseExpression(text);
      if (this.#parsed.size > 5000) this.#parsed.clear();
      this.#parsed.set(text, e);
    }
    return e;
  }

  /**
   * Check the rules of a collection definition against a schema (used before a schema change commits):
   * every rule must parse and name only known fields.
   */
  validateRules(c: Collection, all: readonly Collection[]): void {
    const byKey = new Map<string, Collection>();
    for (const x of all) {
      byKey.set(x.id, x);
      byKey.set(x.name.toLowerCase(), x);
    }
    const lookup = schemaLookup((k) => byKey.get(k) ?? byKey.get(k.toLowerCase()));
    const errors: Record<string, { code: string; message: string }> = {};
    for (const key of ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule', 'authRule', 'manageRule'] as const) {
      const rule = c[key];
      if (!rule) continue;
      try {
        compileToSql(parseExpression(rule), {
          dialect: this.db.dialect, schema: lookup, collection: c.name, tableAlias: this.db.dialect.quoteIdent(c.name),
          request: emptyRequest(), allowHidden: true,
        });
      } catch (e) {
        errors[key] = { code: 'validation_invalid_rule', message: e instanceof BasaltError ? e.message : 'Invalid rule.' };
      }
    }
    if (Object.keys(errors).length) throw new BasaltError('collection_invalid', { data: errors });
  }

  #lookup() {
    return schemaLookup((k) => this.registry.find(k), (rule) => this.parse(rule));
  }

  /** Compile a rule for a principal: allow, deny, or a SQL condition. */
  #rule(c: Collection, rule: Rule, ctx: CallContext, alias: string): RuleSql {
    if (ctx.principal.kind === 'superuser') return ALLOW;
    if (rule === null) return DENY;
    if (rule === '') return ALLOW;
    const { sql, params } = compileToSql(this.parse(rule), {
      dialect: this.db.dialect, schema: this.#lookup(), collection: c.name, tableAlias: alias, request: ctx.request, allowHidden: true,
    });
    return { kind: 'sql', sql, params };
  }

  /** A `null` rule is for superusers only: answered before anything about the request is looked at. */
  #requireRule(c: Collection, key: RuleKey, ctx: CallContext): void {
    if (c[key] === null && ctx.principal.kind !== 'superuser') throw new BasaltError('superuser_required');
  }

  #ruleOrThrow(c: Collection, key: RuleKey, ctx: CallContext, alias: string): RuleSql {
    const r = this.#rule(c, c[key], ctx, alias);
    if (r.kind === 'deny') throw new BasaltError('superuser_required');
    return r;
  }

  /**
   * A caller's `filter`. Unless a superuser asks, it is a client filter: every relation hop and
   * `@collection` join only reaches records the caller may view / list, and the client cost budget
   * applies (docs/rules.md). The collection's own rules are compiled by {@link #rule}, with full access.
   */
  #compileFilter(c: Collection, filter: string, ctx: CallContext, alias: string): { sql: string; params: SqlValue[] } {
    if (filter.length > MAX_FILTER_LENGTH) throw new BasaltError('filter_invalid', { message: `The filter is longer than ${MAX_FILTER_LENGTH} characters.` });
    const isSuper = ctx.principal.kind === 'superuser';
    return compileToSql(this.parse(filter), {
      dialect: this.db.dialect, schema: this.#lookup(), collection: c.name, tableAlias: alias, request: ctx.request,
      allowHidden: isSuper, client: !isSuper,
    });
  }

  /** List records visible to the principal. */
  async list(ctx: CallContext, collection: string, q: ListParams = {}): Promise<ListResult> {
    const c = this.registry.get(collection);
    const d = this.db.dialect;
    const alias = d.quoteIdent(c.name);
    const rule = this.#ruleOrThrow(c, 'listRule', ctx, alias);
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (rule.kind === 'sql') {
      where.push(`(${rule.sql})`);
      params.push(...rule.params);
    }
    if (q.filter && q.filter.trim()) {
      const f = this.#compileFilter(c, q.filter, ctx, alias);
      where.push(`(${f.sql})`);
      params.push(...f.params);
    }
    const isSuper = ctx.principal.kind === 'superuser';
    const terms = parseSort(c, q.sort, isSuper);
    const perPage = intParam(q.perPage, DEFAULT_PER_PAGE, 1, MAX_PER_PAGE);
    const page = q.cursor ? 1 : intParam(q.page, 1, 1, 1_000_000);
    const fieldsTree = parseFieldsParam(q.fields);
    const expandTree = parseExpand(q.expand);
    const skipTotal = q.skipTotal === 'true' || q.skipTotal === '1';

    const countWhere = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...params];
    if (q.cursor) {
      const cc = cursorCondition(d, alias, terms, q.cursor);
      where.push(cc.sql);
      params.push(...cc.params);
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = orderBy(d, alias, terms);
    // Late row lookup: find the page's ids first, sorting only ids and sort keys, then fetch the full
    // rows of that page. Sorting whole rows (long text, JSON) is what made list pages slow; see
    // docs/decisions/004-late-row-lookup.md. A random order cannot be repeated outside, so it sorts rows.
    const sql = terms.some((t) => t.field === 'random')
      ? `SELECT ${selectColumns(c, d.quoteIdent, alias)} FROM ${alias} ${whereSql} ORDER BY ${order} LIMIT ? OFFSET ?`
      : `SELECT ${selectColumns(c, d.quoteIdent, alias)} FROM (SELECT ${alias}.id AS page_id FROM ${alias} ${whereSql} ORDER BY ${order} LIMIT ? OFFSET ?) AS page_ids JOIN ${alias} ON ${alias}.id = page_ids.page_id ORDER BY ${order}`;
    // Bounded: the page's cost depends on the client's filter and the rules (db readBounded, query_timeout).
    const rows = await this.db.readBounded(sql, [...params, perPage + 1, (page - 1) * perPage]);
    const hasMore = rows.length > perPage;
    if (hasMore) rows.pop();
    let totalItems = -1;
    let totalPages = -1;
    if (!skipTotal) {
      const [row] = await this.db.readBounded<{ n: number }>(`SELECT COUNT(*) AS n FROM ${alias} ${countWhere}`, countParams);
      totalItems = Number(row?.n ?? 0);
      totalPages = Math.ceil(totalItems / perPage);
    }
    const records = rows.map((r) => this.#decode(c, r));
    const result: ListResult = {
      page,
      perPage,
      totalItems,
      totalPages,
      items: await this.#present(ctx, c, records, expandTree, fieldsTree, this.db),
    };
    if (hasMore && !terms.some((t) => t.field === 'random')) result.nextCursor = encodeCursor(terms, records[records.length - 1]);
    return result;
  }

  /** View one record; 404 when missing or not visible. */
  async view(ctx: CallContext, collection: string, id: string, out: OutputParams = {}): Promise<unknown> {
    const c = this.registry.get(collection);
    const row = await this.#fetch(this.db, c, id, ctx, 'viewRule');
    const record = this.#decode(c, row);
    // The common case (no expand, no fields) skips the presentation pipeline's allocations.
    if (!out.expand && !out.fields) return ctx.principal.kind === 'superuser' ? record : hideEmail(c, stripHidden(c, record), ctx.principal);
    return (await this.#present(ctx, c, [record], parseExpand(out.expand), parseFieldsParam(out.fields), this.db))[0];
  }

  readonly #byIdCache = new WeakMap<Collection, string>();

  /** `SELECT <columns> FROM <table> WHERE <table>.id = ?`, built once per collection definition. */
  #byIdSql(c: Collection): string {
    let sql = this.#byIdCache.get(c);
    if (sql === undefined) {
      const alias = this.db.dialect.quoteIdent(c.name);
      sql = `SELECT ${selectColumns(c, this.db.dialect.quoteIdent, alias)} FROM ${alias} WHERE ${alias}.id = ?`;
      this.#byIdCache.set(c, sql);
    }
    return sql;
  }

  /**
   * {@link view}, answered as JSON text. Without `expand`/`fields` (and outside auth collections, whose
   * email visibility depends on the caller) the row goes through the collection's compiled serialiser.
   */
  async viewJson(ctx: CallContext, collection: string, id: string, out: OutputParams = {}): Promise<string> {
    const c = this.registry.get(collection);
    if (out.expand || out.fields || (c.type === 'auth' && ctx.principal.kind !== 'superuser')) return JSON.stringify(await this.view(ctx, collection, id, out));
    const row = await this.#fetch(this.db, c, id, ctx, 'viewRule');
    return rowSerializer(c, ctx.principal.kind === 'superuser')(row, this.#secrets);
  }

  /** Read one row through a rule; 404 when missing or filtered out. */
  async #fetch(ex: Executor, c: Collection, id: string, ctx: CallContext, key: RuleKey): Promise<Record<string, unknown>> {
    const d = this.db.dialect;
    const alias = d.quoteIdent(c.name);
    const rule = this.#ruleOrThrow(c, key, ctx, alias);
    if (!plausibleId(id)) throw new BasaltError('record_not_found');
    const row = rule.kind === 'sql'
      ? await ex.get(`${this.#byIdSql(c)} AND (${rule.sql})`, [id, ...rule.params])
      // The same string object each time: the statement cache finds it without rehashing new text.
      : await ex.get(this.#byIdSql(c), [id]);
    if (!row) throw new BasaltError('record_not_found');
    return row;
  }

  /**
   * Create a record. Runs in `tx` when given (batch), else in its own transaction.
   *
   * Order of checks: a `null` create rule (403) first; then the create rule on the record as it would
   * be stored, with `@request.body` as the write will store it (400 `record_create_denied`), before any
   * validation detail or unique/relation lookup can answer a caller the rule denies; then validation.
   */
  async create(ctx: CallContext, collection: string, body: unknown, out: OutputParams = {}, tx?: Executor): Promise<unknown> {
    const c = this.registry.get(collection);
    const alias = this.db.dialect.quoteIdent(c.name);
    this.#requireRule(c, 'createRule', ctx);
    refuseClientAuthId(c, body, ctx.principal);
    const expandTree = parseExpand(out.expand);
    const fieldsTree = parseFieldsParam(out.fields);
    const resolved = resolveWrite(c, body);
    const rctx = withRuleBody(ctx, resolved.ruleBody);
    const rule = this.#ruleOrThrow(c, 'createRule', rctx, alias);
    // Outside the write transaction (it only reads), unless a batch has written rows the rule may read.
    if (rule.kind === 'sql' && !(await this.#draftPasses(tx ?? this.db, c, resolved, rule))) throw new BasaltError('record_create_denied');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BasaltError('validation_failed', { message: 'The request body must be a JSON object.' });
    // Creating auth records with `verified` set is for superusers; the manage rule applies to updates.
    // Validated (and passwords hashed) before the transaction opens: SQLite has one writer.
    const prepared = await finishWrite(c, resolved, undefined, { privileged: ctx.principal.kind === 'superuser', superuser: ctx.principal.kind === 'superuser' });
    return this.#inTx(tx, async (ex) => {
      await this.#checkRelations(ex, prepared.relationChecks);
      await this.#checkUnique(ex, c, prepared.values, null);
      const values = { ...prepared.values };
      await this.hooks.run({ op: 'create', collection: c, record: values, original: null, principal: ctx.principal, tx: ex }, async () => {
        await this.#insert(ex, c, values);
      });
      const id = String(values.id);
      // Checked again on the stored row, inside the transaction (hooks may have changed it); a failure
      // rolls the insert back.
      if (!(await this.#rowPasses(ex, c, id, rule))) throw new BasaltError('record_create_denied');
      const stored = await this.#readRaw(ex, c, id);
      await this.#log(ex, [{ collection: c.name, recordId: id, op: 'create', data: logData(c, stored) }]);
      return (await this.#present(ctx, c, [this.#decode(c, stored)], expandTree, fieldsTree, ex))[0];
    });
  }

  /**
   * Update a record (PATCH semantics).
   *
   * The row is locked for the rest of the transaction before it is read (see {@link #lockRow}), so
   * modifiers (`n+`, `tags+`, …) and the rules see the row as it is when the write commits: concurrent
   * updates of one record take turns instead of losing each other's changes. Order of checks: a `null`
   * update rule (403); a missing record or one the update rule (with `@request.body` as the write will
   * store it) excludes are the same 404; only then validation (400); last, the update rule on the
   * merged record (403 `rule_denied`, rolled back).
   */
  async update(ctx: CallContext, collection: string, id: string, body: unknown, out: OutputParams = {}, tx?: Executor): Promise<unknown> {
    const c = this.registry.get(collection);
    const alias = this.db.dialect.quoteIdent(c.name);
    this.#requireRule(c, 'updateRule', ctx);
    const expandTree = parseExpand(out.expand);
    const fieldsTree = parseFieldsParam(out.fields);
    return this.#inTx(tx, async (ex) => {
      const row = await this.#lockRow(ex, c, id, 'update');
      const existing = this.#decode(c, row);
      const resolved = resolveWrite(c, body, existing);
      const rctx = withRuleBody(ctx, resolved.ruleBody);
      const rule = this.#ruleOrThrow(c, 'updateRule', rctx, alias);
      if (!(await this.#rowPasses(ex, c, id, rule))) throw new BasaltError('record_not_found');
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BasaltError('validation_failed', { message: 'The request body must be a JSON object.' });
      const authority = c.type === 'auth'
        ? { privileged: await this.#mayManage(ex, c, id, rctx), superuser: ctx.principal.kind === 'superuser', passwordHash: typeof row.password === 'string' ? row.password : undefined }
        : { privileged: true, superuser: ctx.principal.kind === 'superuser' };
      const prepared = await finishWrite(c, resolved, existing, authority);
      await this.#checkRelations(ex, prepared.relationChecks);
      await this.#checkUnique(ex, c, prepared.values, id);
      await this.hooks.run({ op: 'update', collection: c, record: prepared.values, original: existing, principal: ctx.principal, tx: ex }, async () => {
        await this.#updateRow(ex, c, id, prepared.values);
      });
      // The update rule holds for the merged record too, so a PATCH cannot move a row out of the
      // caller's reach (e.g. hand it to another owner); failing rolls the update back.
      if (rule.kind === 'sql' && !(await this.#rowPasses(ex, c, id, rule))) {
        throw new BasaltError('rule_denied', { message: 'The update rule does not hold for the updated record.' });
      }
      const stored = await this.#readRaw(ex, c, id);
      await this.#log(ex, [{ collection: c.name, recordId: id, op: 'update', data: logData(c, stored) }]);
      return (await this.#present(ctx, c, [this.#decode(c, stored)], expandTree, fieldsTree, ex))[0];
    });
  }

  /**
   * Read row `id` of `c` and lock it until the transaction ends (SQLite's write transactions are
   * serialised already). An update takes PostgreSQL's `FOR NO KEY UPDATE` (what an UPDATE itself
   * takes): it does not conflict with the `FOR KEY SHARE` that relation checks hold on their targets,
   * so creating a child while its parent is updated neither blocks nor deadlocks; a delete takes
   * `FOR UPDATE`. No rule here: the caller checks it on the locked row, and answers a row it excludes
   * with the same 404 as a missing one.
   */
  async #lockRow(ex: Executor, c: Collection, id: string, purpose: 'update' | 'delete'): Promise<Record<string, unknown>> {
    if (!plausibleId(id)) throw new BasaltError('record_not_found');
    const d = this.db.dialect;
    const row = await ex.get(`${this.#byIdSql(c)}${purpose === 'update' ? d.rowUpdateLockSuffix : d.rowLockSuffix}`, [id]);
    if (!row) throw new BasaltError('record_not_found');
    return row;
  }

  /**
   * Whether a record not yet stored would satisfy a compiled rule: the rule's SQL runs against a
   * one-row derived table under the collection's name, built from the values the write will store
   * (typed parameters, so both dialects compare them as their columns). Values that failed validation
   * count as their field's zero value; the rule still sees what was sent through `@request.body`.
   */
  async #draftPasses(ex: Executor, c: Collection, resolved: ResolvedWrite, rule: RuleSql): Promise<boolean> {
    if (rule.kind !== 'sql') return rule.kind === 'allow';
    const d = this.db.dialect;
    const now = formatTimestamp();
    const cols: string[] = [];
    const params: SqlValue[] = [];
    for (const f of c.fields) {
      let v: unknown = resolved.merged.has(f) ? resolved.merged.get(f) : zeroValue(f);
      if (f.name === 'id' && !resolved.merged.has(f)) v = '';
      // Never parameters of a rule check: the plaintext password, a token key, a secret.
      if (f.type === 'password' || f.type === 'secret' || (f.system && f.name === 'tokenKey')) v = '';
      if (f.type === 'autodate') v = f.onCreate ? now : '';
      const kind = storageShape(f).kind;
      cols.push(`${kind === 'json' ? d.jsonParam('?') : d.typedParam(kind)} AS ${d.quoteIdent(f.name)}`);
      params.push(encodeValue(f, v));
    }
    const alias = d.quoteIdent(c.name);
    const sql = `SELECT 1 AS ok FROM (SELECT ${cols.join(', ')}) AS ${alias} WHERE (${rule.sql})`;
    return (await ex.get(sql, [...params, ...rule.params])) !== undefined;
  }

  /** Superusers, and callers the auth collection's manage rule admits for this record. */
  async #mayManage(ex: Executor, c: Collection, id: string, ctx: CallContext): Promise<boolean> {
    return this.#rowPasses(ex, c, id, this.#rule(c, c.manageRule ?? null, ctx, this.db.dialect.quoteIdent(c.name)));
  }

  /** Whether stored row `id` of `c` satisfies a compiled rule (checked in the database, so relations work). */
  async #rowPasses(ex: Executor, c: Collection, id: string, rule: RuleSql): Promise<boolean> {
    if (rule.kind !== 'sql') return rule.kind === 'allow';
    const alias = this.db.dialect.quoteIdent(c.name);
    return (await ex.get(`SELECT 1 AS ok FROM ${alias} WHERE ${alias}.id = ? AND (${rule.sql})`, [id, ...rule.params])) !== undefined;
  }

  /**
   * Delete a record, applying relation cascades. The record and every referrer it changes are locked
   * first (see {@link #lockRow}), so a concurrent `rel+` on a referrer is not lost when the reference
   * is removed. A missing record and one the delete rule excludes are the same 404.
   */
  async delete(ctx: CallContext, collection: string, id: string, tx?: Executor): Promise<void> {
    const c = this.registry.get(collection);
    const alias = this.db.dialect.quoteIdent(c.name);
    const rule = this.#ruleOrThrow(c, 'deleteRule', ctx, alias);
    await this.#inTx(tx, async (ex) => {
      const row = await this.#lockRow(ex, c, id, 'delete');
      if (!(await this.#rowPasses(ex, c, id, rule))) throw new BasaltError('record_not_found');
      const changes: NewChange[] = [];
      await this.#deleteCascade(ex, c, row, ctx, changes, new Set(), 0);
      await this.#log(ex, changes);
    });
  }

  /** Run `fn` in `tx` if given, else in a new transaction (see {@link transaction}). */
  #inTx<T>(tx: Executor | undefined, fn: (ex: Executor) => Promise<T>): Promise<T> {
    return tx ? fn(tx) : this.transaction(fn);
  }

  /**
   * Open a transaction for a batch: writes passed this executor commit or roll back together.
   * A transient conflict with a concurrent transaction (a PostgreSQL deadlock between row locks, which
   * PostgreSQL resolves by rolling one back) runs `fn` again, up to {@link TX_ATTEMPTS} times in all:
   * `fn` must not have effects outside the transaction.
   */
  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(fn);
      } catch (e) {
        if (attempt >= TX_ATTEMPTS || !this.db.dialect.isTransientConflict(e)) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  async #log(ex: Executor, changes: NewChange[]): Promise<void> {
    await appendChanges(ex, this.db, changes);
  }

  async #readRaw(ex: Executor, c: Collection, id: string): Promise<Record<string, unknown>> {
    const alias = this.db.dialect.quoteIdent(c.name);
    const row = await ex.get(`SELECT ${selectColumns(c, this.db.dialect.quoteIdent, alias)} FROM ${alias} WHERE id = ?`, [id]);
    if (!row) throw new BasaltError('record_not_found');
    return row;
  }

  async #insert(ex: Executor, c: Collection, values: Record<string, unknown>): Promise<void> {
    const d = this.db.dialect;
    const fields = c.fields.filter((f) => f.name in values);
    const cols = fields.map((f) => d.quoteIdent(f.name)).join(', ');
    const marks = fields.map((f) => (storageShape(f).kind === 'json' ? d.jsonParam('?') : '?')).join(', ');
    try {
      const id = String(values.id);
      await ex.run(`INSERT INTO ${d.quoteIdent(c.name)} (${cols}) VALUES (${marks})`, fields.map((f) => this.#encode(c, f, values[f.name], id)));
    } catch (e) {
      if (d.isUniqueViolation(e)) throw new BasaltError('validation_failed', { message: 'A unique constraint was violated.', data: {}, cause: e });
      throw e;
    }
  }

  async #updateRow(ex: Executor, c: Collection, id: string, values: Record<string, unknown>): Promise<void> {
    const d = this.db.dialect;
    const fields = c.fields.filter((f) => f.name in values && f.name !== 'id');
    if (!fields.length) return;
    const sets = fields.map((f) => `${d.quoteIdent(f.name)} = ${storageShape(f).kind === 'json' ? d.jsonParam('?') : '?'}`).join(', ');
    try {
      await ex.run(`UPDATE ${d.quoteIdent(c.name)} SET ${sets} WHERE id = ?`, [...fields.map((f) => this.#encode(c, f, values[f.name], id)), id]);
    } catch (e) {
      if (d.isUniqueViolation(e)) throw new BasaltError('validation_failed', { message: 'A unique constraint was violated.', data: {}, cause: e });
      throw e;
    }
  }

  /** Every referenced id must exist in its target collection. */
  async #checkRelations(ex: Executor, checks: { field: string; collectionId: string; ids: string[] }[]): Promise<void> {
    const errors: Record<string, { code: string; message: string }> = {};
    for (const check of checks) {
      const target = this.registry.find(check.collectionId);
      if (!target) {
        errors[check.field] = { code: 'validation_missing_rel_records', message: 'The related collection no longer exists.' };
        continue;
      }
      const found = new Set<string>();
      for (let i = 0; i < check.ids.length; i += IN_CHUNK) {
        const chunk = check.ids.slice(i, i + IN_CHUNK);
        // Key-share locked: the targets cannot be deleted before this write commits (no dangling reference).
        const rows = await ex.all<{ id: string }>(`SELECT id FROM ${this.db.dialect.quoteIdent(target.name)} WHERE id IN (${chunk.map(() => '?').join(', ')})${this.db.dialect.rowKeyShareSuffix}`, chunk);
        for (const r of rows) found.add(r.id);
      }
      if (check.ids.some((x) => !found.has(x))) errors[check.field] = { code: 'validation_missing_rel_records', message: 'Failed to find all relation records with the provided ids.' };
    }
    if (Object.keys(errors).length) throw new BasaltError('validation_failed', { data: errors });
  }

  /** Report unique-index clashes per field before the database does (a clearer error). */
  async #checkUnique(ex: Executor, c: Collection, values: Record<string, unknown>, selfId: string | null): Promise<void> {
    const d = this.db.dialect;
    const errors: Record<string, { code: string; message: string }> = {};
    const table = d.quoteIdent(c.name);
    if (selfId === null && typeof values.id === 'string') {
      if (await ex.get(`SELECT 1 AS x FROM ${table} WHERE id = ?`, [values.id])) errors.id = { code: 'validation_not_unique', message: 'The value must be unique.' };
    }
    const singles = c.fields.filter((f) => f.unique && f.name !== 'id' && f.name in values);
    const composite = c.indexes.filter((i) => i.unique && i.columns.every((col) => col.replace(/^-/, '') in values || selfId !== null));
    for (const f of singles) {
      const v = values[f.name];
      if (v === '' || v === null || v === undefined) continue;
      const match = isAuthEmailField(c, f) ? authEmailMatch(d, String(v), selfId ?? undefined) : undefined;
      const row = match
        ? await ex.get(`SELECT 1 AS x FROM ${table} WHERE ${match.sql}`, match.params)
        : await ex.get(`SELECT 1 AS x FROM ${table} WHERE ${d.quoteIdent(f.name)} = ?${selfId ? ' AND id != ?' : ''}`, selfId ? [encodeValue(f, v), selfId] : [encodeValue(f, v)]);
      if (row) errors[f.name] = { code: 'validation_not_unique', message: 'The value must be unique.' };
    }
    for (const idx of composite) {
      const cols = idx.columns.map((x) => c.fields.find((f) => f.name === x.replace(/^-/, ''))!);
      if (!cols.some((f) => f.name in values)) continue;
      let current: Record<string, unknown> = {};
      if (selfId) current = (await ex.get(`SELECT ${cols.map((f) => d.quoteIdent(f.name)).join(', ')} FROM ${table} WHERE id = ?`, [selfId])) ?? {};
      const params = cols.map((f) => (f.name in values ? encodeValue(f, values[f.name]) : (current[f.name] as SqlValue)));
      if (cols.some((f) => storageShape(f).kind === 'json')) continue; // left to the database
      const row = await ex.get(
        `SELECT 1 AS x FROM ${table} WHERE ${cols.map((f) => `${d.quoteIdent(f.name)} = ?`).join(' AND ')}${selfId ? ' AND id != ?' : ''}`,
        selfId ? [...params, selfId] : params,
      );
      if (row) for (const f of cols) errors[f.name] = { code: 'validation_not_unique', message: 'The value must be unique.' };
    }
    if (Object.keys(errors).length) throw new BasaltError('validation_failed', { data: errors });
  }

  /**
   * Delete `row` of `c`, first resolving every relation that points at it: cascade-delete the
   * referrer, remove the reference, or refuse when the reference is required.
   */
  async #deleteCascade(ex: Executor, c: Collection, row: Record<string, unknown>, ctx: CallContext, changes: NewChange[], seen: Set<string>, depth: number): Promise<void> {
    const key = `${c.id}/${String(row.id)}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (depth > MAX_CASCADE_DEPTH) throw new BasaltError('conflict', { message: 'The delete cascades too deep.' });
    const d = this.db.dialect;
    const id = String(row.id);
    for (const other of this.registry.list()) {
      for (const f of other.fields) {
        if (f.type !== 'relation' || f.collectionId !== c.id) continue;
        const multi = storageShape(f).multi;
        const otherAlias = d.quoteIdent(other.name);
        const col = `${otherAlias}.${d.quoteIdent(f.name)}`;
        const cond = multi ? `EXISTS (SELECT 1 FROM ${d.jsonEach(col, 'je')} WHERE je.value = ?)` : `${col} = ?`;
        // Locked: the reference is removed by read-modify-write, which must not undo a concurrent `rel+`.
        const referrers = await ex.all(`SELECT ${selectColumns(other, d.quoteIdent, otherAlias)} FROM ${otherAlias} WHERE ${cond}${d.rowLockSuffix}`, [id]);
        for (const ref of referrers) {
          if (other.id === c.id && String(ref.id) === id) continue;
          if (f.cascadeDelete) {
            await this.#deleteCascade(ex, other, ref, ctx, changes, seen, depth + 1);
            continue;
          }
          const current = rowToRecord(other, ref)[f.name];
          const next = multi ? (current as string[]).filter((x) => x !== id) : '';
          if (f.required && (multi ? (next as string[]).length === 0 : true)) {
            throw new BasaltError('validation_failed', {
              message: `The record is referenced by the required relation ${other.name}.${f.name}; delete or change those records first.`,
            });
          }
          await ex.run(`UPDATE ${otherAlias} SET ${d.quoteIdent(f.name)} = ${multi ? d.jsonParam('?') : '?'} WHERE id = ?`, [encodeValue(f, next), String(ref.id)]);
          const updated = await this.#readRaw(ex, other, String(ref.id));
          changes.push({ collection: other.name, recordId: String(ref.id), op: 'update', data: logData(other, updated) });
        }
      }
    }
    const original = this.#decodeForDelete(c, row);
    await this.hooks.run({ op: 'delete', collection: c, record: original, original, principal: ctx.principal, tx: ex }, async () => {
      await ex.run(`DELETE FROM ${d.quoteIdent(c.name)} WHERE id = ?`, [id]);
    });
    changes.push({ collection: c.name, recordId: id, op: 'delete', data: logData(c, row) });
  }

  /**
   * The record delete hooks see: decrypted, except that a secret that no longer opens (altered in the
   * database, or its master key removed) must not make the record undeletable: then hooks get the
   * stored, sealed values.
   */
  #decodeForDelete(c: Collection, row: Record<string, unknown>): ApiRecord {
    try {
      return this.#decode(c, row);
    } catch (e) {
      if (isBasaltError(e) && e.code === 'secret_unreadable') return rowToRecord(c, row);
      throw e;
    }
  }

  /** Expand relations, strip hidden fields for non-superusers, apply `fields`. */
  async #present(ctx: CallContext, c: Collection, records: ApiRecord[], expand: ExpandTree | undefined, fields: ReturnType<typeof parseFieldsParam>, ex: Executor): Promise<unknown[]> {
    if (expand && records.length) await this.#expand(ctx, c, records, expand, ex, 0);
    const isSuper = ctx.principal.kind === 'superuser';
    let out: unknown[] = isSuper ? records : records.map((r) => this.#stripDeep(c, r, ctx.principal));
    if (fields) out = out.map((r) => pickFields(r, fields));
    return out;
  }

  #stripDeep(c: Collection, r: ApiRecord, principal: Principal): ApiRecord {
    const out = hideEmail(c, stripHidden(c, r), principal);
    const exp = out.expand as Record<string, unknown> | undefined;
    if (exp) {
      const next: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(exp)) {
        const strip = (x: unknown) => {
          const rec = x as ApiRecord;
          const col = this.registry.find(rec.collectionId);
          return col ? this.#stripDeep(col, rec, principal) : rec;
        };
        next[k] = Array.isArray(v) ? v.map(strip) : strip(v);
      }
      out.expand = next;
    }
    return out;
  }

  /** Load related records for one level of the expand tree, checking the target's view rule. */
  async #expand(ctx: CallContext, c: Collection, records: ApiRecord[], tree: ExpandTree, ex: Executor, depth: number): Promise<void> {
    const d = this.db.dialect;
    for (const [name, sub] of tree) {
      const field = c.fields.find((f) => f.name === name);
      if (field && field.type === 'relation' && !(field.hidden && ctx.principal.kind !== 'superuser')) {
        const target = this.registry.find((field as RelationField).collectionId);
        if (!target) continue;
        const ids = new Set<string>();
        for (const r of records) for (const v of asList(r[name])) ids.add(v);
        const loaded = await this.#loadVisible(ctx, target, [...ids], ex);
        const multi = storageShape(field).multi;
        const children: ApiRecord[] = [];
        for (const r of records) {
          const related = asList(r[name]).map((x) => loaded.get(x)).filter((x): x is ApiRecord => x !== undefined);
          if (!related.length) continue;
          const exp = ((r.expand as Record<string, unknown>) ??= {});
          exp[name] = multi ? related : related[0];
          children.push(...related);
        }
        if (sub.size && children.length) await this.#expand(ctx, target, dedupe(children), sub, ex, depth + 1);
        continue;
      }
      const via = /^([a-zA-Z_][a-zA-Z0-9_]*)_via_([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(name);
      const refCollection = via ? this.registry.find(via[1]) : undefined;
      const refField = refCollection?.fields.find((f) => f.name === via![2]);
      if (!refCollection || !refField || refField.type !== 'relation' || refField.collectionId !== c.id || (refField.hidden && ctx.principal.kind !== 'superuser')) {
        throw new BasaltError('expand_invalid', { message: `Cannot expand "${name}": not a relation of ${c.name}.` });
      }
      const multi = storageShape(refField).multi;
      const alias = d.quoteIdent(refCollection.name);
      const col = `${alias}.${d.quoteIdent(refField.name)}`;
      const rule = this.#rule(refCollection, refCollection.viewRule, ctx, alias);
      if (rule.kind === 'deny') continue;
      const ids = records.map((r) => r.id);
      const byParent = new Map<string, ApiRecord[]>();
      const children: ApiRecord[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        const chunk = ids.slice(i, i + IN_CHUNK);
        const marks = chunk.map(() => '?').join(', ');
        const cond = multi ? `EXISTS (SELECT 1 FROM ${d.jsonEach(col, 'je')} WHERE je.value IN (${marks}))` : `${col} IN (${marks})`;
        const rows = await ex.all(
          `SELECT ${selectColumns(refCollection, d.quoteIdent, alias)} FROM ${alias} WHERE ${cond}${rule.kind === 'sql' ? ` AND (${rule.sql})` : ''} ORDER BY ${alias}.id LIMIT 1000`,
          [...chunk, ...(rule.kind === 'sql' ? rule.params : [])],
        );
        for (const row of rows) {
          const rec = this.#decode(refCollection, row);
          children.push(rec);
          for (const parent of asList(rec[refField.name])) {
            let list = byParent.get(parent);
            if (!list) byParent.set(parent, (list = []));
            list.push(rec);
          }
        }
      }
      for (const r of records) {
        const list = byParent.get(r.id);
        if (list?.length) ((r.expand as Record<string, unknown>) ??= {})[name] = list;
      }
      if (sub.size && children.length) await this.#expand(ctx, refCollection, children, sub, ex, depth + 1);
    }
  }

  /** Records of `target` with these ids that the principal may view. */
  async #loadVisible(ctx: CallContext, target: Collection, ids: string[], ex: Executor): Promise<Map<string, ApiRecord>> {
    const out = new Map<string, ApiRecord>();
    const d = this.db.dialect;
    const alias = d.quoteIdent(target.name);
    const rule = this.#rule(target, target.viewRule, ctx, alias);
    if (rule.kind === 'deny' || ids.length === 0) return out;
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      const rows = await ex.all(
        `SELECT ${selectColumns(target, d.quoteIdent, alias)} FROM ${alias} WHERE ${alias}.id IN (${chunk.map(() => '?').join(', ')})${rule.kind === 'sql' ? ` AND (${rule.sql})` : ''}`,
        [...chunk, ...(rule.kind === 'sql' ? rule.params : [])],
      );
      for (const row of rows) out.set(String(row.id), this.#decode(target, row));
    }
    return out;
  }

  /** Whether record `id` of `c` satisfies `rule` for `principal` (`null` = never, `""` = always). */
  async passesRule(c: Collection, rule: Rule, id: string, principal: Principal): Promise<boolean> {
    if (rule === null) return false;
    const request = { ...emptyRequest(), auth: principal.kind === 'anonymous' ? null : principal.record };
    return this.#rowPasses(this.db, c, id, this.#rule(c, rule, { principal, request }, this.db.dialect.quoteIdent(c.name)));
  }

  /** Raw row access for trusted internal callers (auth): no rules, secrets included. */
  async findRawBy(collection: string, field: string, value: SqlValue): Promise<Record<string, unknown> | undefined> {
    const c = this.registry.get(collection);
    const f = c.fields.find((x) => x.name === field);
    if (!f) throw new BasaltError('bad_request');
    const d = this.db.dialect;
    // Auth emails match regardless of case (sign-in, email flows, OAuth linking, superuser upsert).
    if (isAuthEmailField(c, f)) {
      if (typeof value !== 'string' || value === '') return undefined;
      const match = authEmailMatch(d, value);
      return this.db.get(`SELECT ${selectColumns(c, d.quoteIdent)} FROM ${d.quoteIdent(c.name)} WHERE ${match.sql}`, match.params);
    }
    return this.db.get(`SELECT ${selectColumns(c, d.quoteIdent)} FROM ${d.quoteIdent(c.name)} WHERE ${d.quoteIdent(f.name)} = ?`, [value]);
  }

  /** Records of `c` as the API shows them to this principal (for auth answers). */
  async present(ctx: CallContext, c: Collection, row: Record<string, unknown>): Promise<unknown> {
    return (await this.#present(ctx, c, [this.#decode(c, row)], undefined, undefined, this.db))[0];
  }
}

/**
 * An auth record's email is shown only to superusers, to the record itself, and to others when the
 * record opted in with `emailVisibility` (PocketBase semantics).
 */
function hideEmail(c: Collection, r: ApiRecord, principal: Principal): ApiRecord {
  if (c.type !== 'auth' || r.emailVisibility === true || !('email' in r)) return r;
  if (principal.kind === 'record' && principal.collection === c.name && principal.record.id === r.id) return r;
  const { email: _hidden, ...rest } = r;
  return rest as ApiRecord;
}

/** Change-log data: the stored record without password hashes or token keys; secret fields stay sealed. */
function logData(c: Collection, row: Record<string, unknown>): Record<string, unknown> {
  const r = rowToRecord(c, row) as Record<string, unknown>;
  return r;
}

function asList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof v === 'string' && v !== '' ? [v] : [];
}

function dedupe(records: ApiRecord[]): ApiRecord[] {
  // Expansion attaches `expand` to record objects; the same related record may appear under several parents.
  return [...new Set(records)];
}

/** A parsed `expand` parameter: relation name → nested expansions. */
export type ExpandTree = Map<string, ExpandTree>;

/** Parse `expand=author,comments_via_post.user`. */
export function parseExpand(param: string | undefined): ExpandTree | undefined {
  if (!param || !param.trim()) return undefined;
  const root: ExpandTree = new Map();
  const paths = param.split(',').map((s) => s.trim()).filter(Boolean);
  if (paths.length > MAX_EXPAND_PATHS) throw new BasaltError('expand_invalid', { message: `At most ${MAX_EXPAND_PATHS} expand paths.` });
  for (const path of paths) {
    const parts = path.split('.');
    if (parts.length > MAX_EXPAND_DEPTH || parts.some((p) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(p))) {
      throw new BasaltError('expand_invalid', { message: `Invalid expand path "${path.slice(0, 64)}".` });
    }
    let node = root;
    for (const p of parts) {
      let next = node.get(p);
      if (!next) node.set(p, (next = new Map()));
      node = next;
    }
  }
  return root;
}

/**
 * `ctx` with `@request.body` replaced by the body as the write will store it ({@link ResolvedWrite.ruleBody}),
 * so rules such as `@request.body.credits:isset = false` cannot be bypassed with `credits+`, `+tags` or `tags-`.
 */
function withRuleBody(ctx: CallContext, body: Record<string, unknown>): CallContext {
  const r = ctx.request;
  // Query and headers stay lazy (LazyRequestContext builds them only when a rule reads them).
  const request: RequestContext = {
    auth: r.auth, body, method: r.method, context: r.context,
    get query() { return r.query; },
    get headers() { return r.headers; },
  };
  return { ...ctx, request };
}

/** A request context with nothing in it (rules compiled for validation, internal calls). */
export function emptyRequest(): RequestContext {
  return { auth: null, body: {}, query: {}, headers: {}, method: 'GET', context: 'default' };
}

export type { RecordOperation, Field };
export { isSecretField };
