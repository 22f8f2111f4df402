/**
 * Migrations as code: files in `basalt_migrations/` (`<unix-seconds>_<name>.js` or `.ts`) that export
 * `up(m)` and `down(m)`. `basalt migrate up` applies the pending ones in name order and records them in
 * `_migrations`; with automigrate on, every schema change made through the API writes such a file, so
 * the schema travels to other instances through version control and CI/CD.
 */
import { mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Database, Dialect, Executor } from '../db/index.ts';
import { formatTimestamp } from '../tools/index.ts';
import type { Collection } from './collection-model.ts';
import type { CollectionRegistry, SchemaChange } from './collection-registry.ts';

/** What a migration's `up`/`down` receives. */
export interface Migrator {
  /** Create the collection, or update the one with the same id (or name) to exactly this definition. */
  saveCollection(definition: Collection): Promise<void>;
  /** Delete a collection by id or name (no-op when it does not exist). */
  deleteCollection(idOrName: string): Promise<void>;
  /** For data migrations. Raw SQL is dialect-specific: check `dialect.name` when you must. */
  db: Executor;
  dialect: Dialect;
}

/** A migration module's exports. */
export interface Migration {
  up(m: Migrator): Promise<void>;
  down(m: Migrator): Promise<void>;
}

/** A migration file and whether it has been applied. */
export interface MigrationStatus {
  name: string;
  applied: string | null;
}

const FILE_PATTERN = /^\d+_[a-zA-Z0-9_]+\.(js|mjs|ts)$/;

function migrator(db: Database, registry: CollectionRegistry): Migrator {
  return {
    saveCollection: async (def) => {
      await registry.apply(def);
    },
    deleteCollection: async (idOrName) => {
      if (registry.find(idOrName)) await registry.delete(idOrName);
    },
    db,
    dialect: db.dialect,
  };
}

async function loadMigration(dir: string, name: string): Promise<Migration> {
  const mod = (await import(pathToFileURL(join(dir, name)).href)) as { default?: Migration } & Partial<Migration>;
  const m = mod.default ?? (mod as Migration);
  if (typeof m.up !== 'function' || typeof m.down !== 'function') throw new Error(`${name} must export up(m) and down(m)`);
  return m;
}

/** Files and their applied state, in order. */
export async function migrationStatus(db: Database, dir: string): Promise<MigrationStatus[]> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => FILE_PATTERN.test(f)).sort() : [];
  const applied = new Map((await db.all<{ name: string; applied: string }>('SELECT name, applied FROM _migrations')).map((r) => [r.name, r.applied]));
  const names = new Set([...files, ...applied.keys()]);
  const stamp = (n: string) => Number(n.slice(0, n.indexOf('_')));
  // By timestamp first, so that order holds even when the number of digits changes.
  return [...names].sort((a, b) => stamp(a) - stamp(b) || (a < b ? -1 : a > b ? 1 : 0)).map((name) => ({ name, applied: applied.get(name) ?? null }));
}

/** Apply every pending migration; answers the names applied. Stops at the first failure. */
export async function migrateUp(db: Database, registry: CollectionRegistry, dir: string): Promise<string[]> {
  const done: string[] = [];
  for (const s of await migrationStatus(db, dir)) {
    if (s.applied) continue;
    const m = await loadMigration(dir, s.name);
    await m.up(migrator(db, registry));
    await db.run('INSERT INTO _migrations (name, applied) VALUES (?, ?)', [s.name, formatTimestamp()]);
    done.push(s.name);
  }
  return done;
}

/** Revert the last `count` applied migrations; answers the names reverted. */
export async function migrateDown(db: Database, registry: CollectionRegistry, dir: string, count = 1): Promise<string[]> {
  const applied = (await migrationStatus(db, dir)).filter((s) => s.applied).reverse().slice(0, count);
  const done: string[] = [];
  for (const s of applied) {
    if (!existsSync(join(dir, s.name))) throw new Error(`cannot revert ${s.name}: the file is missing`);
    const m = await loadMigration(dir, s.name);
    await m.down(migrator(db, registry));
    await db.run('DELETE FROM _migrations WHERE name = ?', [s.name]);
    done.push(s.name);
  }
  return done;
}

/**
 * `<seconds>_<slug>.js`, with a number strictly greater than every file already in `dir`: files apply
 * in name order, so several changes within one second must still sort in the order they were made.
 */
function nextFileName(dir: string, label: string): string {
  const slug = label.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'migration';
  let stamp = Math.floor(Date.now() / 1000);
  const existing = existsSync(dir) ? readdirSync(dir).filter((f) => FILE_PATTERN.test(f)) : [];
  for (const f of existing) stamp = Math.max(stamp, Number(f.slice(0, f.indexOf('_'))) + 1);
  return `${stamp}_${slug}.js`;
}

/** Write an empty migration to fill in by hand; answers its file name. */
export function createMigrationFile(dir: string, label: string): string {
  mkdirSync(dir, { recursive: true });
  const name = nextFileName(dir, label);
  writeFileSync(join(dir, name), `/** @typedef {import('basalt').Migrator} Migrator */

export default {
  /** @param {Migrator} m */
  async up(m) {
    // e.g. await m.saveCollection({ ...definition });
  },
  /** @param {Migrator} m */
  async down(m) {
    // undo what up() did
  },
};
`);
  return name;
}

const json = (v: unknown) => JSON.stringify(v, null, 2).replace(/\n/g, '\n    ');

/**
 * A definition as a migration file may hold it: OAuth2 client secrets blanked (files go to version
 * control). Applying it keeps the secret an instance has, since an empty secret means "unchanged";
 * each environment sets its own (docs/oauth.md).
 */
function withoutSecrets(c: Collection): Collection {
  if (!c.oauth2?.providers?.length) return c;
  return { ...c, oauth2: { ...c.oauth2, providers: c.oauth2.providers.map((p) => ({ ...p, clientSecret: '' })) } };
}

/**
 * Write the migration for a schema change made through the API and mark it applied here (it already
 * is). Answers the file name.
 */
export async function writeChangeMigration(db: Database, dir: string, change: SchemaChange): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const c = (change.after ?? change.before)!;
  const verb = change.op === 'create' ? 'created' : change.op === 'delete' ? 'deleted' : 'updated';
  const name = nextFileName(dir, `${verb}_${c.name}`);
  const up = change.after ? `await m.saveCollection(${json(withoutSecrets(change.after))});` : `await m.deleteCollection(${JSON.stringify(c.id)});`;
  const down = change.before ? `await m.saveCollection(${json(withoutSecrets(change.before))});` : `await m.deleteCollection(${JSON.stringify(c.id)});`;
  writeFileSync(join(dir, name), `// Written by Basalt (automigrate) for a schema change made through the API.
export default {
  async up(m) {
    ${up}
  },
  async down(m) {
    ${down}
  },
};
`);
  await db.run('INSERT INTO _migrations (name, applied) VALUES (?, ?)', [name, formatTimestamp()]);
  return name;
}
