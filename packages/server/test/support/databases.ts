/**
 * One suite, every dialect: `dialects()` lists the databases a suite runs on — SQLite always,
 * PostgreSQL when `BASALT_TEST_DATABASE_URL` is set (CI always sets it) — and `freshDatabase()`
 * gives each test its own empty database (a temp SQLite file, or a new PostgreSQL schema).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/index.ts';

export type DialectName = 'sqlite' | 'postgres';

/** The PostgreSQL URL for tests, if enabled. */
export const postgresTestUrl: string | undefined = process.env.BASALT_TEST_DATABASE_URL || undefined;

/** Dialects this run covers. */
export function dialects(): DialectName[] {
  return postgresTestUrl ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A fresh database plus the means to drop it. */
export interface TestDatabase {
  db: Database;
  /** SQLite data directory, or PostgreSQL schema name. */
  location: { dir?: string; schema?: string; url?: string; sqlitePath?: string };
  /** Close and delete everything. */
  dispose(): Promise<void>;
}

/** Where a fresh database for `dialect` lives, without opening it (for servers started as child processes). */
export function freshLocation(dialect: DialectName): TestDatabase['location'] & { cleanup(): Promise<void> } {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'basalt-test-'));
    return { dir, sqlitePath: join(dir, 'data.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = postgresTestUrl!;
  return {
    schema,
    url,
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Open a fresh, empty database of `dialect` with the system tables in place. */
export async function freshDatabase(dialect: DialectName): Promise<TestDatabase> {
  const loc = freshLocation(dialect);
  const db = await openDatabase({ url: loc.url, sqlitePath: loc.sqlitePath ?? ':memory:', schema: loc.schema });
  return {
    db,
    location: loc,
    dispose: async () => {
      await db.close();
      await loc.cleanup();
    },
  };
}
