import pg from 'pg';
import { BasaltError } from '../../errors/index.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, type Database, type Dialect, type Executor, type Row, type SqlValue } from '../db-types.ts';
import { postgresDialect } from './postgres-dialect.ts';

/** Options for {@link openPostgres}. */
export interface PostgresOptions {
  /** `postgres://user:pass@host:port/db` */
  url: string;
  /** Schema to use (created when missing); `public` by default. Tests use one schema each. */
  schema?: string;
  /** Pool size. */
  max?: number;
  /** `statement_timeout` of `readBounded`, ms (default {@link DEFAULT_QUERY_TIMEOUT_MS}). */
  queryTimeoutMs?: number;
  /** Connections of the bounded-read pool (default 4), apart from the `max` of the main pool. */
  boundedMax?: number;
  /**
   * `statement_timeout` of statements outside transactions on the main pool, ms (default
   * {@link SAFETY_NET_TIMEOUT_MS}: 0, none). Transactions then run without one (see `transaction`).
   */
  safetyNetTimeoutMs?: number;
}

/**
 * The default safety net for statements run outside a transaction on the main pool (views, sign-in
 * lookups, housekeeping deletes): off. With 60 s it cost PostgreSQL creates about a quarter of their
 * throughput in `npm run bench` (the session timeout, and the `SET LOCAL` every transaction then
 * needs; docs/decisions/007), while the expensive client-driven reads are bounded by their own pool.
 */
export const SAFETY_NET_TIMEOUT_MS = 0;

/** SQLSTATE `query_canceled`: statement_timeout (or pg_cancel_backend) stopped the statement. */
const QUERY_CANCELED = '57014';

/** A cancelled statement is the client's too-expensive query: a stable 400, never a 500. */
function mapCancel(e: unknown): unknown {
  return (e as { code?: string })?.code === QUERY_CANCELED ? new BasaltError('query_timeout', { cause: e }) : e;
}

// Keep BIGINT (int8) and NUMERIC as JS numbers: sequence numbers and counts stay well below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

/**
 * Rewrite `?` placeholders to `$1…$n`, leaving quoted strings, quoted identifiers and the
 * `?|`/`?&` operators (unused by Basalt) alone.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (quote) {
      out += c;
      if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

const converted = new Map<string, string>();
function convert(sql: string): string {
  let s = converted.get(sql);
  if (s === undefined) {
    s = numberPlaceholders(sql);
    if (converted.size > 2000) converted.clear();
    converted.set(sql, s);
  }
  return s;
}

function values(params: readonly SqlValue[] | undefined): unknown[] {
  return params ? params.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v)) : [];
}

class ClientExecutor implements Executor {
  readonly #client: pg.PoolClient | pg.Pool;
  constructor(client: pg.PoolClient | pg.Pool) {
    this.#client = client;
  }
  async #query(sql: string, params?: readonly SqlValue[]): Promise<pg.QueryResult> {
    try {
      return await this.#client.query(convert(sql), values(params));
    } catch (e) {
      throw mapCancel(e);
    }
  }
  async all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[];
  }
  async get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.#query(sql, params)).rows[0] as T | undefined;
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return { changes: (await this.#query(sql, params)).rowCount ?? 0 };
  }
}

class PostgresDatabase implements Database {
  readonly dialect: Dialect = postgresDialect;
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #exec: ClientExecutor;
  /**
   * Bounded reads: their own few connections, each session with `statement_timeout` set at connect,
   * so the server cancels a slow statement and slow reads can never take the main pool's connections.
   * One round trip per query, like the main pool (SET LOCAL would need BEGIN/SET/query/COMMIT).
   */
  readonly #bounded: pg.Pool;
  readonly queryTimeoutMs: number;
  /** How transactions start: with `SET LOCAL statement_timeout = 0` only when the safety net is on. */
  readonly #begin: string;

  constructor(opts: PostgresOptions) {
    const schema = opts.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
    this.queryTimeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const safetyNet = opts.safetyNetTimeoutMs ?? SAFETY_NET_TIMEOUT_MS;
    this.#begin = safetyNet > 0 ? 'BEGIN; SET LOCAL statement_timeout = 0' : 'BEGIN';
    this.#pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      // Waiting forever for a pooled connection turns an overload into a hang; fail the request instead.
      connectionTimeoutMillis: 10_000,
      options: `-c search_path=${schema}${safetyNet > 0 ? ` -c statement_timeout=${safetyNet}` : ''}`,
    });
    this.#bounded = new pg.Pool({
      connectionString: opts.url,
      max: opts.boundedMax ?? 4,
      // Waiting for a bounded connection is bounded by the same limit (then database_busy).
      connectionTimeoutMillis: this.queryTimeoutMs,
      options: `-c search_path=${schema} -c statement_timeout=${this.queryTimeoutMs}`,
    });
    // A pool error (e.g. the server restarted) must not crash the process; the next query reconnects.
    this.#pool.on('error', () => {});
    this.#bounded.on('error', () => {});
    this.#exec = new ClientExecutor(this.#pool);
    const u = new URL(opts.url);
    u.password = u.password ? '***' : '';
    this.description = `${u.toString()} (schema ${schema})`;
  }

  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#exec.all<T>(sql, params);
  }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#exec.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.#exec.run(sql, params);
  }

  async readBounded<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    try {
      return (await this.#bounded.query(convert(sql), values(params))).rows as T[];
    } catch (e) {
      // pg-pool's own wait limit for a free connection: every bounded connection is busy.
      if (e instanceof Error && /timeout exceeded when trying to connect/.test(e.message)) throw new BasaltError('database_busy', { cause: e });
      throw mapCancel(e);
    }
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      // No safety net inside transactions: they are the write path, migrations (CREATE INDEX on a big
      // table, column conversions), key rotation and the bootstrap lock wait, which may rightly take
      // long. One simple-protocol message, so this costs no extra round trip.
      await client.query(this.#begin);
      try {
        const result = await fn(new ClientExecutor(client));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#pool.end(), this.#bounded.end()]);
  }
}

/** Connect to PostgreSQL, creating the schema when missing. */
export async function openPostgres(opts: PostgresOptions): Promise<Database> {
  const schema = opts.schema ?? 'public';
  if (schema !== 'public') {
    const c = new pg.Client({ connectionString: opts.url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } catch (e) {
      // Several nodes creating the schema at once: IF NOT EXISTS is not race-free in PostgreSQL.
      const code = (e as { code?: string }).code;
      if (code !== '23505' && code !== '42P06') throw e;
    } finally {
      await c.end();
    }
  }
  const db = new PostgresDatabase(opts);
  await db.get('SELECT 1 AS ok');
  return db;
}
