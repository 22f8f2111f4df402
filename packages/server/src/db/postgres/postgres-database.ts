import pg from 'pg';
import type { Database, Dialect, Executor, Row, SqlValue } from '../db-types.ts';
import { postgresDialect } from './postgres-dialect.ts';

/** Options for {@link openPostgres}. */
export interface PostgresOptions {
  /** `postgres://user:pass@host:port/db` */
  url: string;
  /** Schema to use (created when missing); `public` by default. Tests use one schema each. */
  schema?: string;
  /** Pool size. */
  max?: number;
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
  async all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const r = await this.#client.query(convert(sql), values(params));
    return r.rows as T[];
  }
  async get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    const r = await this.#client.query(convert(sql), values(params));
    return r.rows[0] as T | undefined;
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    const r = await this.#client.query(convert(sql), values(params));
    return { changes: r.rowCount ?? 0 };
  }
}

class PostgresDatabase implements Database {
  readonly dialect: Dialect = postgresDialect;
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #exec: ClientExecutor;

  constructor(opts: PostgresOptions) {
    const schema = opts.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
    this.#pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      // Waiting forever for a pooled connection turns an overload into a hang; fail the request instead.
      connectionTimeoutMillis: 10_000,
      options: `-c search_path=${schema}`,
    });
    // A pool error (e.g. the server restarted) must not crash the process; the next query reconnects.
    this.#pool.on('error', () => {});
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

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
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
    await this.#pool.end();
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
