/**
 * The collection registry: the live schema. Loads definitions from `_collections`, keeps them in
 * memory (compiled once, used per request), and applies changes as DDL + definition row + change
 * event in one transaction.
 */
import { BasaltError } from '../errors/index.ts';
import { appendChanges, type Database, type Executor } from '../db/index.ts';
import { formatTimestamp } from '../tools/index.ts';
import type { Collection, Field, RelationField } from './collection-model.ts';
import { ROLES_COLLECTION_ID, authFields, idField, normalizeCollection, rolesField } from './collection-validate.ts';
import { defaultAuthOptions } from './collection-auth-options.ts';
import { planCreate, planDrop, planUpdate, type DdlStep } from './collection-ddl.ts';

/** A schema change, as reported to listeners (automigrate, caches). */
export interface SchemaChange {
  op: 'create' | 'update' | 'delete';
  before: Collection | null;
  after: Collection | null;
}

/** Hooks the registry calls; the records layer uses them to check rules against the new schema. */
export interface RegistryHooks {
  /** Throw a BasaltError to refuse a definition (e.g. a rule naming an unknown field). */
  validate?(collection: Collection, all: readonly Collection[]): void;
  /** Called after a change committed. */
  changed?(change: SchemaChange): void | Promise<void>;
  /**
   * Called inside a change's transaction, before the definition is stored: may answer a different
   * definition to store (the auth layer moves OAuth client secrets into a sealed table). `after` is
   * null for a deletion.
   */
  beforeStore?(collectionId: string, after: Collection | null, tx: Executor): Promise<Collection | null>;
}

/** Change-log collection name for schema events. */
export const SCHEMA_CHANGE_COLLECTION = '_collections';

/** The live schema. */
export class CollectionRegistry {
  readonly #db: Database;
  readonly #hooks: RegistryHooks;
  #byName = new Map<string, Collection>();
  #byId = new Map<string, Collection>();
  /** Bumped on every change; caches keyed on it (compiled rules, OpenAPI) know when to rebuild. */
  version = 0;

  constructor(db: Database, hooks: RegistryHooks = {}) {
    this.#db = db;
    this.#hooks = hooks;
  }

  /** Read all definitions from the database; creates `_superusers` on first start. */
  async load(): Promise<void> {
    const rows = await this.#db.all<{ definition: string }>('SELECT definition FROM _collections ORDER BY created, name');
    const all = rows.map((r) => JSON.parse(r.definition) as Collection);
    this.#set(all);
    if (!this.#byName.has('_superusers')) {
      const created = await this.#createSuperusers();
      // Another node created it first: read the schema again.
      if (!created) return this.load();
    }
    if (!this.#byName.has('_roles')) {
      if (!(await this.#createRoles())) return this.load();
    }
    // Auth collections made before roles existed get their `roles` field — unless one of their own
    // fields is already called that (then they keep it, and rules see it as it is).
    for (const c of this.list()) {
      if (c.type !== 'auth' || c.name === '_superusers' || c.fields.some((f) => f.name.toLowerCase() === 'roles')) continue;
      try {
        await this.#commit({ op: 'update', before: c, after: { ...c, fields: [...c.fields, rolesField()], updated: formatTimestamp() } });
      } catch (e) {
        // Another node starting at the same moment may have added it first.
        const rows = await this.#db.all<{ definition: string }>('SELECT definition FROM _collections WHERE id = ?', [c.id]);
        const now = rows[0] ? (JSON.parse(rows[0].definition) as Collection) : undefined;
        if (!now?.fields.some((f) => f.name === 'roles')) throw e;
        this.#set([...this.list().filter((x) => x.id !== c.id), now]);
      }
    }
  }

  #set(all: Collection[]): void {
    this.#byName = new Map(all.map((c) => [c.name.toLowerCase(), c]));
    this.#byId = new Map(all.map((c) => [c.id, c]));
    this.version++;
  }

  /** All collections, in creation order. */
  list(): Collection[] {
    return [...this.#byId.values()];
  }

  /** A collection by id or name (names are case-insensitive), or undefined. */
  find(idOrName: string): Collection | undefined {
    // Ids first (a name could look like another collection's id); exact names before lower-casing,
    // which allocates on every request.
    return this.#byId.get(idOrName) ?? this.#byName.get(idOrName) ?? this.#byName.get(idOrName.toLowerCase());
  }

  /** A collection by id or name; `collection_not_found` when missing. */
  get(idOrName: string): Collection {
    const c = this.find(idOrName);
    if (!c) throw new BasaltError('collection_not_found');
    return c;
  }

  /** Create a collection from a client body. */
  async create(body: unknown): Promise<Collection> {
    const c = this.#resolveRelations(normalizeCollection(body), null);
    if (this.#byName.has(c.name.toLowerCase())) throw new BasaltError('collection_invalid', { data: { name: { code: 'validation_not_unique', message: 'A collection with this name exists.' } } });
    if (this.#byId.has(c.id)) throw new BasaltError('collection_invalid', { data: { id: { code: 'validation_not_unique', message: 'A collection with this id exists.' } } });
    return (await this.#commit({ op: 'create', before: null, after: c }))!;
  }

  /** Update a collection from a PATCH body. */
  async update(idOrName: string, body: unknown): Promise<Collection> {
    const before = this.get(idOrName);
    const after = this.#resolveRelations(normalizeCollection(body, before), before);
    const clash = this.#byName.get(after.name.toLowerCase());
    if (clash && clash.id !== before.id) throw new BasaltError('collection_invalid', { data: { name: { code: 'validation_not_unique', message: 'A collection with this name exists.' } } });
    return (await this.#commit({ op: 'update', before, after }))!;
  }

  /** Delete a collection and its table. Refused for system collections and relation targets. */
  async delete(idOrName: string): Promise<void> {
    const before = this.get(idOrName);
    if (before.system) throw new BasaltError('collection_invalid', { message: 'System collections cannot be deleted.' });
    const referrers = this.list().filter((c) => c.id !== before.id && c.fields.some((f) => f.type === 'relation' && f.collectionId === before.id));
    if (referrers.length) {
      throw new BasaltError('collection_invalid', { message: `The collection is referenced by relation fields of: ${referrers.map((c) => c.name).join(', ')}.` });
    }
    await this.#commit({ op: 'delete', before, after: null });
  }

  /**
   * Make the schema equal `definition` (a full collection definition, as a migration file holds it):
   * create it, or update the collection with the same id or name. Used by migrations.
   */
  async apply(definition: Collection): Promise<Collection> {
    const existing = this.find(definition.id) ?? this.find(definition.name);
    const { created: _c, updated: _u, system: _s, ...body } = definition;
    if (!existing) {
      const c = this.#resolveRelations(normalizeCollection({ ...body }), null);
      return (await this.#commit({ op: 'create', before: null, after: { ...c, id: definition.id } }))!;
    }
    const after = this.#resolveRelations(normalizeCollection(body, existing), existing);
    return (await this.#commit({ op: 'update', before: existing, after }))!;
  }

  /** Relation targets may be given by name; store ids, and check they exist. */
  #resolveRelations(c: Collection, before: Collection | null): Collection {
    const errors: Record<string, { code: string; message: string }> = {};
    const fields: Field[] = c.fields.map((f, i) => {
      if (f.type !== 'relation') return f;
      const target = f.collectionId === c.id || f.collectionId === c.name || (before && f.collectionId === before.name) ? c : this.find(f.collectionId);
      if (!target) {
        errors[`fields.${i}.collectionId`] = { code: 'validation_unknown_collection', message: `Unknown collection "${f.collectionId}".` };
        return f;
      }
      return { ...f, collectionId: target.id } satisfies RelationField;
    });
    if (Object.keys(errors).length) throw new BasaltError('collection_invalid', { data: errors });
    const out = { ...c, fields };
    const all = this.list().filter((x) => x.id !== out.id);
    this.#hooks.validate?.(out, [...all, out]);
    return out;
  }

  /**
   * Apply a change in one transaction. `onlyIfAbsent` makes a create a no-op (answering null) when a
   * collection of that name already exists once the schema lock is held (first start of several nodes).
   */
  async #commit(change: SchemaChange, onlyIfAbsent = false): Promise<Collection | null> {
    const d = this.#db.dialect;
    const steps: DdlStep[] =
      change.op === 'create' ? planCreate(d, change.after!) : change.op === 'delete' ? planDrop(d, change.before!) : planUpdate(d, change.before!, change.after!);
    const applied = await this.#db.transaction(async (tx) => {
      // Schema changes from several nodes take turns (PostgreSQL; SQLite's writer lock already does).
      if (d.bootstrapLock) await tx.get(d.bootstrapLock);
      if (onlyIfAbsent && (await tx.get('SELECT 1 AS x FROM _collections WHERE name = ?', [change.after!.name]))) return false;
      try {
        await runSteps(tx, d.quoteIdent.bind(d), d.jsonParam('?'), steps);
      } catch (e) {
        // Existing rows that break a new unique index are the client's problem, not a server fault.
        if (d.isUniqueViolation(e)) throw new BasaltError('collection_invalid', { message: 'Existing records violate a unique index of the new definition.', data: { indexes: { code: 'validation_not_unique', message: 'Existing records have duplicate values.' } }, cause: e });
        throw e;
      }
      if (this.#hooks.beforeStore) {
        const id = (change.after ?? change.before)!.id;
        change = { ...change, after: await this.#hooks.beforeStore(id, change.after, tx) };
      }
      const c = (change.after ?? change.before)!;
      if (change.op === 'create') {
        await tx.run('INSERT INTO _collections (id, name, type, definition, created, updated) VALUES (?, ?, ?, ?, ?, ?)', [c.id, c.name, c.type, JSON.stringify(c), c.created, c.updated]);
      } else if (change.op === 'update') {
        await tx.run('UPDATE _collections SET name = ?, definition = ?, updated = ? WHERE id = ?', [c.name, JSON.stringify(c), c.updated, c.id]);
      } else {
        await tx.run('DELETE FROM _collections WHERE id = ?', [c.id]);
      }
      await appendChanges(tx, this.#db, [{ collection: SCHEMA_CHANGE_COLLECTION, recordId: c.id, op: change.op, data: { before: change.before, after: change.after } as Record<string, unknown> }]);
      return true;
    });
    if (!applied) return null;
    const all = this.list().filter((c) => c.id !== (change.before ?? change.after)!.id);
    this.#set(change.after ? [...all, change.after] : all);
    await this.#hooks.changed?.(change);
    return (change.after ?? change.before)!;
  }

  /**
   * Create `_roles` (roles and their permissions, managed by superusers through the records API);
   * false when another node did it first.
   */
  async #createRoles(): Promise<boolean> {
    return this.#createSystem(ROLES_COLLECTION_ID, '_roles', 'base', [
      { id: 'text_role_name1', name: 'name', type: 'text', system: true, required: true, min: 1, max: 64, pattern: '^[a-z][a-z0-9_.:-]*$', unique: true, presentable: true },
      { id: 'text_role_desc1', name: 'description', type: 'text', system: false, max: 500 },
      { id: 'json_role_perm1', name: 'permissions', type: 'json', system: true, maxSize: 20_000 },
    ], ['autodate_role_c', 'autodate_role_u']);
  }

  /** Create `_superusers`; false when another node did it first. */
  async #createSuperusers(): Promise<boolean> {
    return this.#createSystem('pbc_3142635823', '_superusers', 'auth', authFields(), ['autodate2990389176', 'autodate3332085495'], {
      authRule: '',
      manageRule: null,
      ...defaultAuthOptions(),
    });
  }

  /**
   * Create a system collection (superusers-only rules, `id` first, `created`/`updated` last) unless one
   * of that name exists once the schema lock is held; false when another node created it first.
   */
  async #createSystem(id: string, name: string, type: Collection['type'], fields: Field[], autodateIds: [string, string], extra: Partial<Collection> = {}): Promise<boolean> {
    const now = formatTimestamp();
    const c: Collection = {
      id,
      name,
      type,
      system: true,
      fields: [
        idField(),
        ...fields,
        { id: autodateIds[0], name: 'created', type: 'autodate', system: true, onCreate: true, onUpdate: false },
        { id: autodateIds[1], name: 'updated', type: 'autodate', system: true, onCreate: true, onUpdate: true },
      ],
      indexes: [],
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
      ...extra,
      created: now,
      updated: now,
    };
    return (await this.#commit({ op: 'create', before: null, after: c }, true)) !== null;
  }
}

async function runSteps(tx: Executor, quote: (s: string) => string, jsonPlaceholder: string, steps: DdlStep[]): Promise<void> {
  for (const step of steps) {
    if (step.kind === 'sql') {
      await tx.run(step.sql);
      continue;
    }
    const t = quote(step.table);
    const rows = await tx.all<{ id: string; v: unknown }>(`SELECT id, ${quote(step.column)} AS v FROM ${t}`);
    for (const row of rows) {
      const value = step.convert(row.v);
      await tx.run(`UPDATE ${t} SET ${quote(step.target)} = ${step.json ? jsonPlaceholder : '?'} WHERE id = ?`, [step.json ? JSON.stringify(value) : (value as string), row.id]);
    }
  }
}
