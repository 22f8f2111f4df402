/**
 * Test fixture for the rules compilers: a small schema (posts → users → teams, a multi relation,
 * a multi select, a json field, a hidden field), tables in the documented storage shapes, and
 * helpers that answer a filter both ways (SQL on a real database, predicate in memory).
 */
import type { Database } from '../../src/db/index.ts';
import {
  compileToPredicate, compileToSql, parseExpression, type FieldInfo, type RecordLookup, type RequestContext, type SchemaLookup,
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

export const schema: SchemaLookup = {
  field: (c, n) => FIELDS[c]?.find((f) => f.name === n),
  hasCollection: (c) => Object.hasOwn(FIELDS, c),
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

/** Ids of `posts` matching `filter` in SQL. */
export async function sqlIds(db: Database, filter: string, request: RequestContext = noRequest, now?: Date, collection = 'posts'): Promise<string[]> {
  const { sql, params } = compileToSql(parseExpression(filter), {
    dialect: db.dialect, schema, collection, tableAlias: db.dialect.quoteIdent(collection), request, allowHidden: false, now,
  });
  const rows = await db.all<{ id: string }>(`SELECT ${db.dialect.quoteIdent('id')} AS id FROM ${db.dialect.quoteIdent(collection)} WHERE ${sql}`, params);
  return rows.map((r) => r.id).sort();
}

/** Ids of `posts` matching `filter` in memory. */
export async function predicateIds(data: Record<string, Rec[]>, filter: string, request: RequestContext = noRequest, now?: Date, collection = 'posts'): Promise<string[]> {
  const pred = compileToPredicate(parseExpression(filter), { schema, collection, allowHidden: false });
  const lookup = lookupOf(data);
  const out: string[] = [];
  for (const r of data[collection]) if (await pred(r, request, lookup, now)) out.push(r.id as string);
  return out.sort();
}
