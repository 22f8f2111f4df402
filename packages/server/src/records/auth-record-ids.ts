/**
 * Auth-record ids are unique across ALL auth collections (`_superusers` included).
 *
 * Why: rules compare `@request.auth.id` with relation values and record ids, and most rules do not
 * also check the caller's collection. A record of a second auth collection (`members`) with the same
 * id as a `users` record would satisfy that user's rules. So every auth record's id is claimed in one
 * system table, `_auth_ids`, whose primary key makes the database itself refuse a second claim — also
 * for two concurrent creates in two collections, on either dialect (PostgreSQL: the second insert
 * waits for the first transaction and then finds the key taken; SQLite: writers are serialised).
 *
 * The claim is written in the record's own transaction (a create hook, before the insert), released
 * by a delete hook and when an auth collection is dropped ({@link releaseCollectionAuthIds}), and
 * existing databases are backfilled at start ({@link ensureAuthRecordIds}), which refuses to start
 * when two auth collections already share an id (fail closed: docs/access-control.md).
 *
 * Client-chosen ids on public sign-up are refused outright ({@link refuseClientAuthId}): only
 * superusers (and batches run by superusers) may pick an auth record's id.
 */
import { BasaltError } from '../errors/index.ts';
import type { Database, Executor } from '../db/index.ts';
import type { Collection, CollectionRegistry } from '../schema/index.ts';
import type { Principal } from './principal.ts';
import type { RecordHooks } from './record-hooks.ts';

const TABLE = '_auth_ids';

/** Create `_auth_ids` when missing (idempotent; safe for several nodes starting together). */
async function ensureTable(ex: Executor): Promise<void> {
  await ex.run(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL
    )`);
  await ex.run(`CREATE INDEX IF NOT EXISTS ${TABLE}_collection ON ${TABLE} (collection_id)`);
}

/**
 * Refuse an `id` in the body of a sign-up: a create in an auth collection by anyone but a superuser
 * (anonymous sign-ups, OAuth2 sign-ups, signed-in users, API keys). 400 `auth_id_not_allowed`.
 */
export function refuseClientAuthId(c: Collection, body: unknown, principal: Principal): void {
  if (c.type !== 'auth' || principal.kind === 'superuser') return;
  if (body && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'id')) {
    throw new BasaltError('auth_id_not_allowed', { data: { id: { code: 'validation_auth_id_not_allowed', message: 'Ids of auth records are chosen by the server.' } } });
  }
}

/**
 * Register the hooks that claim an id on create and release it on delete, inside the write's
 * transaction. They run before every other hook (priority -10000), so a refused claim costs nothing.
 */
export function registerAuthRecordIdHooks(hooks: RecordHooks): void {
  hooks.on('create', '*', async (e, next) => {
    if (e.collection.type === 'auth') {
      const claimed = await e.tx.run(`INSERT INTO ${TABLE} (id, collection_id) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, [String(e.record.id), e.collection.id]);
      // The same answer as a duplicate id inside one collection: nothing tells which collection has it.
      if (claimed.changes !== 1) throw new BasaltError('validation_failed', { data: { id: { code: 'validation_not_unique', message: 'The value must be unique.' } } });
    }
    await next();
  }, { id: 'auth-record-ids-claim', priority: -10000 });
  hooks.on('delete', '*', async (e, next) => {
    await next();
    if (e.collection.type === 'auth') await e.tx.run(`DELETE FROM ${TABLE} WHERE id = ? AND collection_id = ?`, [String(e.original?.id ?? e.record.id), e.collection.id]);
  }, { id: 'auth-record-ids-release', priority: -10000 });
}

/** Release every id claimed by a dropped auth collection, in the schema change's transaction. */
export async function releaseCollectionAuthIds(tx: Executor, collectionId: string): Promise<void> {
  await tx.run(`DELETE FROM ${TABLE} WHERE collection_id = ?`, [collectionId]);
}

/**
 * At start: create `_auth_ids`, claim the id of every auth record that has none yet (databases from
 * before this table, or rows written around the records service), and refuse to start when an id is
 * used in two auth collections. The error names both records; the operator resolves it by deleting
 * or re-creating one of them (docs/access-control.md, "Auth record ids").
 */
export async function ensureAuthRecordIds(db: Database, registry: CollectionRegistry): Promise<void> {
  const d = db.dialect;
  const clashes: string[] = [];
  await db.transaction(async (tx) => {
    if (d.bootstrapLock) await tx.get(d.bootstrapLock);
    await ensureTable(tx);
    const auth = registry.list().filter((c) => c.type === 'auth');
    // Claims of collections that no longer exist (dropped by an older version) hold ids for nobody.
    const live = auth.map((c) => c.id);
    await tx.run(`DELETE FROM ${TABLE} WHERE collection_id NOT IN (${live.map(() => '?').join(', ')})`, live);
    for (const c of auth) {
      const t = d.quoteIdent(c.name);
      // `WHERE true`: SQLite needs it to parse an upsert whose source is a SELECT.
      await tx.run(`INSERT INTO ${TABLE} (id, collection_id) SELECT id, ? FROM ${t} WHERE true ON CONFLICT (id) DO NOTHING`, [c.id]);
    }
    for (const c of auth) {
      const t = d.quoteIdent(c.name);
      const rows = await tx.all<{ id: string; owner: string }>(`SELECT ${t}.id AS id, a.collection_id AS owner FROM ${t} JOIN ${TABLE} a ON a.id = ${t}.id WHERE a.collection_id != ? LIMIT 20`, [c.id]);
      for (const r of rows) clashes.push([`${registry.find(r.owner)?.name ?? r.owner}/${r.id}`, `${c.name}/${r.id}`].sort().join(' and '));
    }
  });
  if (clashes.length) {
    throw new Error(`Auth record ids must be unique across auth collections, but these records share one: ${[...new Set(clashes)].slice(0, 20).join('; ')}. `
      + 'A token of one would act as the other in rules. Delete or re-create one record of each pair (docs/access-control.md, "Auth record ids"), then start again.');
  }
}
