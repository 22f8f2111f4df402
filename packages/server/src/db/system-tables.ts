import type { Database } from './db-types.ts';

/**
 * Create Basalt's own tables when missing. They are plain tables on both dialects; JSON documents
 * that Basalt never filters inside (collection definitions, change data) are kept as TEXT.
 */
export async function ensureSystemTables(db: Database): Promise<void> {
  const d = db.dialect;
  await db.transaction(async (tx) => {
    if (d.bootstrapLock) await tx.get(d.bootstrapLock);
    await tx.run(`CREATE TABLE IF NOT EXISTS _collections (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      definition TEXT NOT NULL,
      created TEXT NOT NULL,
      updated TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _changes (
      seq ${d.serialPrimaryKey},
      collection TEXT NOT NULL,
      record_id TEXT NOT NULL,
      op TEXT NOT NULL,
      data TEXT NOT NULL,
      created TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _migrations (
      name TEXT PRIMARY KEY NOT NULL,
      applied TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _params (
      key TEXT PRIMARY KEY NOT NULL,
      value TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _refresh_tokens (
      hash TEXT PRIMARY KEY NOT NULL,
      family TEXT NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      token_key_hash TEXT NOT NULL,
      generation INTEGER NOT NULL,
      created TEXT NOT NULL,
      expires TEXT NOT NULL,
      used TEXT NOT NULL DEFAULT '',
      revoked INTEGER NOT NULL DEFAULT 0
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _refresh_tokens_family ON _refresh_tokens (family)');
    // One row per sign-in session (refresh-token family): how it signed in and from where.
    await tx.run(`CREATE TABLE IF NOT EXISTS _sessions (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      amr TEXT NOT NULL,
      ip TEXT NOT NULL,
      user_agent TEXT NOT NULL,
      created TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _sessions_owner ON _sessions (collection_id, record_id)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _audit (
      seq ${d.serialPrimaryKey},
      created TEXT NOT NULL,
      action TEXT NOT NULL,
      outcome TEXT NOT NULL,
      actor TEXT NOT NULL,
      target TEXT NOT NULL,
      ip TEXT NOT NULL,
      details TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _audit_action ON _audit (action, seq)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _rate_limits (
      key TEXT PRIMARY KEY NOT NULL,
      win INTEGER NOT NULL,
      hits INTEGER NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _idempotency (
      key TEXT PRIMARY KEY NOT NULL,
      fingerprint TEXT NOT NULL,
      state TEXT NOT NULL,
      status INTEGER NOT NULL DEFAULT 0,
      response TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL
    )`);
  });
}
