/**
 * Default limit of `Database.readBounded`, ms (config `queryTimeoutMs`). Generous for honest list
 * pages (a filtered COUNT over a million SQLite rows takes well under a second), short enough that a
 * few expensive requests cannot hold workers or pooled connections for long.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 3000;

/** A value that can be bound to a SQL parameter. Booleans are converted per dialect. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

/** A result row. Column names are as selected. */
export type Row = Record<string, unknown>;

/**
 * A SQL statement with `?` placeholders and its bound values. All SQL Basalt builds uses `?`;
 * the PostgreSQL driver renumbers them to `$1…$n`. User input only ever travels in `params`.
 */
export interface Sql {
  text: string;
  params: SqlValue[];
}

/** What can run statements: the database itself or an open transaction. */
export interface Executor {
  /** All rows of a query. */
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement without result rows; answers how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

/** Logical column kinds; each dialect maps them to a concrete SQL type. */
export type ColumnKind = 'text' | 'number' | 'bool' | 'json';

/**
 * Everything that differs between SQL dialects, in one place (ARCHITECTURE invariant 4).
 * Query builders ask the dialect instead of testing its name.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** Quote an identifier. Names are validated before they get here; quoting is the second fence. */
  quoteIdent(name: string): string;
  /** Column type for a logical kind. */
  columnType(kind: ColumnKind): string;
  /** SQL literal for a column default of a kind (`''`, `0`, `FALSE`, `'[]'`). */
  zeroDefault(kind: ColumnKind, multi?: boolean): string;
  /** Auto-increment primary key column definition (for the change log). */
  readonly serialPrimaryKey: string;
  /** Case-insensitive LIKE operator with `\` as escape: `LIKE … ESCAPE '\'` / `ILIKE … ESCAPE '\'`. */
  likeOperator(negate: boolean): string;
  /**
   * A table expression yielding one row per element of a JSON array held in `expr`, with the element
   * (as text, numbers and booleans in their JSON text) in column `value`.
   * Example: sqlite `json_each(expr)`, postgres `jsonb_array_elements_text(expr)`.
   */
  jsonEach(expr: string, alias: string): string;
  /** Element count of a JSON array expression. */
  jsonArrayLength(expr: string): string;
  /** Text of a JSON value at a path of keys, for filtering json fields: `data.a.b`. */
  jsonExtractText(expr: string, path: readonly string[]): { sql: string; params: SqlValue[] };
  /** Cast a text expression to the column representation of JSON (identity on sqlite, ::jsonb on pg). */
  jsonParam(placeholder: string): string;
  /**
   * A JSON value at `path` (object keys / array indexes) of a JSON column expression, read as one kind,
   * for the rules compiler. `text`: strings as is, numbers in their JSON text, booleans `'true'`/`'false'`,
   * NULL for null/object/array/missing. `number`: the number, NULL unless a JSON number. `bool`: the
   * boolean (1/0 on sqlite), NULL unless a JSON boolean. `isnull`: a boolean expression, true when the
   * value is missing, JSON null, SQL NULL or not valid JSON. Path segments are `[A-Za-z0-9_]+` (validated
   * by the caller); they travel as parameters.
   */
  jsonValue(expr: string, path: readonly string[], as: 'text' | 'number' | 'bool' | 'isnull'): { sql: string; params: SqlValue[] };
  /**
   * A boolean expression: `value` matches the LIKE `pattern` (both SQL expressions) with `\` as escape,
   * case-insensitive for ASCII letters only, on every dialect (so all dialects and the in-memory
   * evaluator agree). NULL when either side is NULL.
   */
  ilike(value: string, pattern: string): string;
  /** Lower-case ASCII letters only (`A`–`Z`), leaving every other character alone, on every dialect. */
  lowerAscii(expr: string): string;
  /** Make `<`/`>` on a text expression compare by code point (byte order of UTF-8), like SQLite's BINARY. */
  collateBinary(expr: string): string;
  /** Null-safe equality: true when both are equal or both NULL, never NULL (`IS` / `IS NOT DISTINCT FROM`). */
  nullSafeEq(a: string, b: string): string;
  /** A `?` placeholder cast to a logical kind, so that the engine never has to guess a parameter's type. */
  typedParam(kind: 'text' | 'number' | 'bool'): string;
  /** Whether the engine coerces a bound boolean to 1/0 (sqlite) or keeps booleans (postgres). */
  readonly nativeBoolean: boolean;
  /**
   * SQL run inside a write transaction right before the change-log append, so that sequence order
   * equals commit order (see db/changes). Empty when writers are already serialised.
   */
  readonly changeLogLock: string;
  /**
   * SQL run first in the transaction that creates Basalt's own tables and system collections, so that
   * several nodes starting together on a fresh database do not race. Empty where `BEGIN IMMEDIATE`
   * already serialises them (SQLite).
   */
  readonly bootstrapLock: string;
  /** Appended to a SELECT inside a transaction to lock the rows it reads (` FOR UPDATE`; empty on SQLite, whose writer lock covers it). */
  readonly rowLockSuffix: string;
  /**
   * Appended to a SELECT inside a transaction to lock rows it is about to update without changing their
   * key (` FOR NO KEY UPDATE`, the lock an UPDATE itself takes: it leaves `FOR KEY SHARE` holders alone;
   * empty on SQLite).
   */
  readonly rowUpdateLockSuffix: string;
  /**
   * Appended to a SELECT inside a transaction to keep the rows it reads from being deleted (or their key
   * changed) until commit, without blocking ordinary updates of them: what a foreign-key check takes
   * (` FOR KEY SHARE`; empty on SQLite, whose writer lock covers it). Record writes take it on the
   * targets of the relations they set, so a concurrent delete cannot leave a dangling reference.
   */
  readonly rowKeyShareSuffix: string;
  /**
   * Whether a failed statement or commit is a transient conflict between concurrent transactions
   * (PostgreSQL deadlock or serialization failure): the transaction was rolled back and running it
   * again can succeed. Always false on SQLite, whose write transactions take turns.
   */
  isTransientConflict(e: unknown): boolean;
  /** How the driver reports a unique-constraint violation. */
  isUniqueViolation(e: unknown): boolean;
  /**
   * A boolean SQL term that is always true but lets a bounded read be stopped while it runs: the rule
   * compiler ANDs it into every JOIN's ON condition, with a column of the joined table as argument, so
   * that it is evaluated inside the nested loop that multiplies rows. SQLite: a call into
   * `basalt_guard(<column>)` (registered on every connection), which throws once the statement's
   * deadline has passed (see {@link Database.readBounded}); PostgreSQL: `TRUE` (its
   * `statement_timeout` cancels statements on the server).
   *
   * @example
   * `LEFT JOIN posts j1 ON ${dialect.rowGuard('j1.id')}`
   */
  rowGuard(columnExpr: string): string;
}

/** A connection pool (postgres) or connection pair (sqlite) with transactions. */
export interface Database extends Executor {
  readonly dialect: Dialect;
  /**
   * All rows of a read whose cost depends on client input (list pages and their COUNT, with client
   * filters and access rules), run so that it cannot hold the server: it is cancelled once it runs
   * longer than {@link queryTimeoutMs} and then rejects with `BasaltError('query_timeout')` (400);
   * the database stays usable. When too many bounded reads are already running or waiting, it rejects
   * with `BasaltError('database_busy')` (503).
   *
   * - PostgreSQL: a separate small pool whose sessions have `statement_timeout` set, so the server
   *   cancels the statement and the main pool's connections are never taken by slow reads.
   * - SQLite (file): a worker thread with its own read-only connection runs the statement, so the
   *   event loop stays free; the row guard ({@link Dialect.rowGuard}) in the statement stops it at the
   *   deadline. Like `all()` outside a transaction, it reads the last committed state.
   * - SQLite `:memory:` (one private connection, which no worker can share): on the main thread; the
   *   row guard still cancels at the deadline, but the event loop waits until then.
   *
   * Only SELECT / WITH … SELECT statements belong here.
   *
   * @example
   * const rows = await db.readBounded('SELECT id FROM posts WHERE …', params);
   */
  readBounded<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The limit of {@link readBounded}, in ms. */
  readonly queryTimeoutMs: number;
  /**
   * Run `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Nested calls with the same executor are the caller's business: pass `tx` down.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  /** Close all connections. */
  close(): Promise<void>;
  /** Where the data lives, for the boot banner (secrets redacted). */
  readonly description: string;
}
