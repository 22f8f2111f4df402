/**
 * Emails of auth records are unique and looked up case-insensitively (PocketBase: `CREATE UNIQUE
 * INDEX … (email COLLATE NOCASE) WHERE email != ''`), while the stored value stays as the user typed
 * it. `ALICE@example.com` can no longer sign up beside `alice@example.com`, nor can an email change
 * move onto it.
 *
 * One folding on both dialects: ASCII letters only (the dialect's `lowerAscii`; SQLite's `lower()`
 * folds nothing else either), so SQLite and PostgreSQL agree on which addresses clash. The unique
 * index is on that expression, and lookups use the same expression, so they are index lookups.
 */
import { createHash } from 'node:crypto';
import type { Database, Dialect, SqlValue } from '../db/index.ts';
import type { Collection, Field } from './collection-model.ts';
import type { CollectionRegistry } from './collection-registry.ts';

/** True for the system `email` field of an auth collection. */
export function isAuthEmailField(c: Collection, f: Field): boolean {
  return c.type === 'auth' && f.name === 'email' && f.system === true;
}

/** Fold an address the way the index does: ASCII `A`–`Z` to lower case, nothing else. */
export function foldEmail(value: string): string {
  return value.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function indexName(prefix: string, c: Collection, f: Field): string {
  return `${prefix}_${createHash('sha1').update(`${c.id}\u0000${f.id}`).digest('hex').slice(0, 20)}`;
}

/** The case-insensitive unique index of an auth collection's email field. */
export function authEmailIndex(d: Dialect, c: Collection, f: Field): { name: string; sql: string } {
  const name = indexName('buqci', c, f);
  const col = d.quoteIdent(f.name);
  return { name, sql: `CREATE UNIQUE INDEX ${d.quoteIdent(name)} ON ${d.quoteIdent(c.name)} (${d.lowerAscii(col)}) WHERE ${col} != ''` };
}

/**
 * `WHERE` text and parameters matching an auth email case-insensitively: the indexed expression, and
 * the index's own condition (so the partial index applies). `exceptId`: leave one record out.
 */
export function authEmailMatch(d: Dialect, email: string, exceptId?: string): { sql: string; params: SqlValue[] } {
  const col = d.quoteIdent('email');
  return {
    sql: `${d.lowerAscii(col)} = ? AND ${col} != ''${exceptId === undefined ? '' : ' AND id != ?'}`,
    params: exceptId === undefined ? [foldEmail(email)] : [foldEmail(email), exceptId],
  };
}

/**
 * Upgrade step at start: give every auth collection the case-insensitive email index, replacing the
 * case-sensitive one of earlier versions. Refuses to start (fail closed) when existing records'
 * emails already clash case-insensitively, naming them: an operator merges or changes those accounts
 * first (docs/access-control.md, "Emails are case-insensitive").
 */
export async function ensureAuthEmailIndexes(db: Database, registry: CollectionRegistry): Promise<void> {
  const d = db.dialect;
  for (const c of registry.list()) {
    const f = c.fields.find((x) => isAuthEmailField(c, x));
    if (!f) continue;
    const idx = authEmailIndex(d, c, f);
    try {
      await db.transaction(async (tx) => {
        if (d.bootstrapLock) await tx.get(d.bootstrapLock);
        await tx.run(idx.sql.replace('CREATE UNIQUE INDEX', 'CREATE UNIQUE INDEX IF NOT EXISTS'));
        await tx.run(`DROP INDEX IF EXISTS ${d.quoteIdent(indexName('buq', c, f))}`);
      });
    } catch (e) {
      if (!d.isUniqueViolation(e)) throw e;
      const col = d.quoteIdent(f.name);
      const folded = d.lowerAscii(col);
      const rows = await db.all<{ id: string; email: string }>(
        `SELECT id, ${col} AS email FROM ${d.quoteIdent(c.name)} WHERE ${col} != '' AND ${folded} IN (SELECT ${folded} FROM ${d.quoteIdent(c.name)} WHERE ${col} != '' GROUP BY ${folded} HAVING COUNT(*) > 1) ORDER BY ${folded}, id LIMIT 20`,
      );
      throw new Error(`Emails of auth records must be unique regardless of case, but these records of "${c.name}" clash: ${rows.map((r) => `${r.id} <${r.email}>`).join(', ')}. `
        + 'Change or delete all but one of each group (docs/access-control.md, "Emails are case-insensitive"), then start again.', { cause: e });
    }
  }
}
