/**
 * Test fixture for the rules compilers: a small schema (posts → users → teams, a multi relation,
 * a multi select, a json field, a hidden field; `users` is an auth collection), access rules that
 * guard client filters, tables in the documented storage shapes, and helpers that answer a filter
 * both ways (SQL on a real database, predicate in memory).
 */
import type { Database } from '../../src/db/index.ts';
import {
  compileToPredicate, compileToSql, parseExpression, type AccessAction, type FieldInfo, type RecordLookup, type RequestContext, type SchemaLookup,
} from '../../src/rules/index.ts';

export type Rec = Record<string, unknown>;

export const FIELDS: Record<string, FieldInfo[]> = {
  teams: [
    { name: 'id', kind: 'text', multi: false },
    { name: 'name', kind: 'text', multi: false },
  ],
  users: [
    { name: 'id', kind: 'text', multi: false },
    { name: 'name', kind: 'text', multi: false },
    { name: 'age', kind: 'number', multi: false },
    { name: 'active', kind: 'bool', multi: false },
    { name: 'team', kind: 'text', multi: false, relation: 'teams' },
    { name: 'roles', kind: 'json', multi: true },
    { name: 'secret', kind: 'text', multi: false, hidden: true },
  ],
  posts: [
    { name: 'id', kind: 'text', multi: false },
    { name: 'title', kind: 'text', multi: false },
    { name: 'views', kind: 'number', multi: false },
    { name: 'published', kind: 'bool', multi: false },
    { name: 'data', kind: 'json', multi: false },
    { name: 'created', kind: 'date', multi: false },
    { name: 'author', kind: 'text', multi: false, relation: 'users' },
    { name: 'editors', kind: 'json', multi: true, relation: 'users' },
    { name: 'tags', kind: 'json', multi: true },
  ],
};

/** Auth collections of the fixture (name → id): their ids are compared with `@request.auth.id`. */
export const AUTH_COLLECTIONS: Record<string, string> = { users: 'pbc_users' };

/**
 * The fixture's list/view rules (what guards client filters). `users` may be read when active or by
 * themselves, `teams` when their name contains an a; posts are public.
 */
export const ACCESS_RULES: Record<string, Record<AccessAction, string | null>> = {
  teams: { list: 'name ~ "a"', view: 'name ~ "a"' },
  users: { list: 'active = true || id = @request.auth.id', view: 'active = true || id = @request.auth.id' },
  posts: { list: '', view: '' },
};

/** The same access rules, written independently in JS (the oracle of the property test). */
export function mayRead(collection: string, rec: Rec, request: RequestContext): boolean {
  const auth = request.auth;
  switch (collection) {
    case 'teams': return /a/i.test(String(rec.name));
    case 'users': return rec.active === true || (auth !== null && auth.collectionName === 'users' && (auth.collectionId ?? 'pbc_users') === 'pbc_users' && auth.id === rec.id);
    default: return true;
  }
}

export const schema: SchemaLookup = {
  field: (c, n) => FIELDS[c]?.find((f) => f.name === n),
  hasCollection: (c) => Object.hasOwn(FIELDS, c),
  accessRule: (c, action) => {
    const rule = ACCESS_RULES[c]?.[action] ?? null;
    return rule === null || rule === '' ? rule : parseExpression(rule);
  },
  authCollection: (c) => (Object.hasOwn(AUTH_COLLECTIONS, c) ? { id: AUTH_COLLECTIONS[c] } : undefined),
};

export const noRequest: RequestContext = { auth: null, body: {}, query: {}, headers: {}, method: 'GET', context: 'default' };

/** Create the fixture's tables in the storage shapes the records layer uses. */
export async function createTables(db: Database): Promise<void> {
  const d = db.dialect;
  for (const [name, fields] of Object.entries(FIELDS)) {
    const cols = fields.map((f) => {
      if (f.name === 'id') return `${d.quoteIdent('id')} TEXT PRIMARY KEY`;
      const kind = f.multi ? 'json' : f.kind === 'date' ? 'text' : f.kind;
      const nullable = kind === 'json' && !f.multi;
      return `${d.quoteIdent(f.name)} ${d.columnType(kind)}${nullable ? '' : ' NOT NULL'} DEFAULT ${d.zeroDefault(kind, f.multi)}`;
    });
    await db.run(`CREATE TABLE ${d.quoteIdent(name)} (${cols.join(', ')})`);
  }
}

/** Insert an API-shaped record (missing fields take their zero values). */
export async function insert(db: Database, collection: string, rec: Rec): Promise<void> {
  const d = db.dialect;
  const fields = FIELDS[collection].filter((f) => Object.hasOwn(rec, f.name));
  const values = fields.map((f) => {
    const v = rec[f.name];
    if (f.multi) return JSON.stringify(v ?? []);
    if (f.kind === 'json') return v === null || v === undefined ? null : JSON.stringify(v);
    return v as string | number | boolean;
  });
  const ph = fields.map((f) => (f.kind === 'json' || f.multi ? d.jsonParam('?') : '?'));
  await db.run(`INSERT INTO ${d.quoteIdent(collection)} (${fields.map((f) => d.quoteIdent(f.name)).join(', ')}) VALUES (${ph.join(', ')})`, values);
}

/** Fill in zero values the way the records layer returns records. */
export function withZeros(collection: string, rec: Rec): Rec {
  const out: Rec = {};
  for (const f of FIELDS[collection]) {
    const v = rec[f.name];
    out[f.name] = v !== undefined ? v : f.multi ? [] : f.kind === 'number' ? 0 : f.kind === 'bool' ? false : f.kind === 'json' ? null : '';
  }
  return out;
}

/** An in-memory store of API-shaped records. */
export function lookupOf(data: Record<string, Rec[]>): RecordLookup {
  return {
    get: async (c, id) => data[c]?.find((r) => r.id === id),
    list: async (c) => data[c] ?? [],
  };
}

/** Ids of `posts` matching `filter` in SQL (`client`: as a client filter, with access guards). */
export async function sqlIds(db: Database, filter: string, request: RequestContext = noRequest, now?: Date, collection = 'posts', client = false): Promise<string[]> {
  const { sql, params } = compileToSql(parseExpression(filter), {
    dialect: db.dialect, schema, collection, tableAlias: db.dialect.quoteIdent(collection), request, allowHidden: false, now, client,
  });
  const rows = await db.all<{ id: string }>(`SELECT ${db.dialect.quoteIdent('id')} AS id FROM ${db.dialect.quoteIdent(collection)} WHERE ${sql}`, params);
  return rows.map((r) => r.id).sort();
}

/** Ids of `posts` matching `filter` in memory. */
export async function predicateIds(data: Record<string, Rec[]>, filter: string, request: RequestContext = noRequest, now?: Date, collection = 'posts', client = false): Promise<string[]> {
  const pred = compileToPredicate(parseExpression(filter), { schema, collection, allowHidden: false, client });
  const lookup = lookupOf(data);
  const out: string[] = [];
  for (const r of data[collection]) if (await pred(r, request, lookup, now)) out.push(r.id as string);
  return out.sort();
}
