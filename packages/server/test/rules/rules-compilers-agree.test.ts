/**
 * Property: for random records (zero values, empty and non-empty arrays, unicode, `%`, `_`, quotes,
 * backslashes) and random expressions and request values, the ids `SELECT id … WHERE <compileToSql>`
 * returns equal the records the predicate accepts — on every dialect. Also parse(print(ast)) = ast.
 *
 * Client filters (access guards on every join): both compilers still agree, and a client filter on the
 * full data selects exactly what the same expression selects, unguarded, on the data the caller may
 * read (related records it may not list/view removed, decided by an independent JS oracle), so no
 * related record the caller cannot read ever decides a match.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dialects, freshDatabase, type TestDatabase } from '../support/databases.ts';
import { parseExpression, printExpression, type CompareOp, type Expr, type Operand, type RequestContext } from '../../src/rules/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';
import { createTables, insert, mayRead, predicateIds, sqlIds, withZeros, type Rec } from './rules-fixture.ts';

const RUNS = Number(process.env.RULES_PROPERTY_RUNS ?? 150);
const NOW = new Date(Date.UTC(2024, 4, 15, 12, 30, 45, 123));

const CHARS = ['a', 'b', 'A', 'B', 'é', 'É', '%', '_', '\\', '"', "'", ' ', '日', '😀', 'x', '-', '1', '0', '.'];
const str = fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 5 });
const num = fc.constantFrom(0, 1, -3, 2.5, 10, 100, 0.1);
const userIds = ['u1', 'u2', 'u3'];
const ref = fc.constantFrom('u1', 'u2', 'u3', '', 'gone');
const tagValues = fc.oneof(fc.constantFrom('a', 'b', 'A', '%', '_', ''), str);
const dates = fc.constantFrom('', '2024-05-15 08:00:00.000Z', '2024-05-14 23:59:59.999Z', '2024-06-01 00:00:00.000Z', '2023-12-31 10:00:00.000Z');
const jsonScalar = fc.oneof(str, num, fc.boolean(), fc.constant(null));

const user = (id: string) => fc.record({
  id: fc.constant(id), name: str, age: num, active: fc.boolean(), team: fc.constantFrom('t1', 't2', '', 'gone'),
  roles: fc.subarray(['admin', 'editor']),
});
const post = (id: string) => fc.record({
  id: fc.constant(id), title: str, views: num, published: fc.boolean(),
  data: fc.oneof(fc.constant(null), fc.record({ a: jsonScalar, s: str }), str, num, fc.boolean()),
  created: dates, author: ref, editors: fc.subarray(['u1', 'u2', 'u3', 'gone']), tags: fc.array(tagValues, { maxLength: 3 }),
});
const dataset = fc.record({
  teams: fc.tuple(str, str).map(([a, b]) => [{ id: 't1', name: a }, { id: 't2', name: b }]),
  users: fc.tuple(...userIds.map(user)),
  posts: fc.tuple(...['p1', 'p2', 'p3', 'p4', 'p5'].map(post)),
}).map((d) => Object.fromEntries(Object.entries(d).map(([c, rs]) => [c, (rs as Rec[]).map((r) => withZeros(c, r))])) as Record<string, Rec[]>);

const request: fc.Arbitrary<RequestContext> = fc.record({
  auth: fc.oneof(
    fc.constant(null),
    fc.record({ id: fc.constantFrom(...userIds), collectionName: fc.constant('users'), roles: fc.subarray(['admin', 'editor']), name: str }),
    fc.record({ id: fc.constantFrom(...userIds), collectionName: fc.constant('users'), collectionId: fc.constantFrom('pbc_users', 'pbc_other') }),
    // a record of another auth collection whose id equals a user's
    fc.record({ id: fc.constantFrom(...userIds), collectionName: fc.constant('members'), collectionId: fc.constant('pbc_members') }),
  ),
  body: fc.record({ x: fc.oneof(str, num, fc.boolean(), fc.constant(null), fc.array(tagValues, { maxLength: 3 })) }, { requiredKeys: [] }),
  query: fc.record({ q: str }),
  headers: fc.constant({ 'X-Token': 't' }),
  method: fc.constantFrom('GET', 'POST'),
  context: fc.constant('default'),
});

const field = (path: string, modifier?: 'length' | 'lower' | 'each'): Operand =>
  modifier ? { type: 'field', path: path.split('.'), modifier } : { type: 'field', path: path.split('.') };
const lit = {
  text: fc.oneof(str.map((value): Operand => ({ type: 'string', value })), fc.constant<Operand>({ type: 'null' }), fc.constantFrom<Operand>({ type: 'macro', name: '@now' }, { type: 'macro', name: '@todayStart' })),
  number: fc.oneof(num.map((value): Operand => ({ type: 'number', value })), fc.constant<Operand>({ type: 'null' }), fc.constant<Operand>({ type: 'string', value: '2.5' }), fc.constant<Operand>({ type: 'macro', name: '@day' })),
  bool: fc.oneof(fc.boolean().map((value): Operand => ({ type: 'bool', value })), fc.constant<Operand>({ type: 'null' })),
  json: fc.oneof(str.map((value): Operand => ({ type: 'string', value })), num.map((value): Operand => ({ type: 'number', value })), fc.boolean().map((value): Operand => ({ type: 'bool', value })), fc.constant<Operand>({ type: 'null' })),
};
const requestOperand = fc.constantFrom<Operand>(
  { type: 'request', source: 'auth', path: ['id'] },
  { type: 'request', source: 'auth', path: ['roles'] },
  { type: 'request', source: 'auth', path: ['name'] },
  { type: 'request', source: 'body', path: ['x'] },
  { type: 'request', source: 'body', path: ['x'], modifier: 'length' },
  { type: 'request', source: 'body', path: ['x'], modifier: 'isset' },
  { type: 'request', source: 'query', path: ['q'] },
  { type: 'request', source: 'method', path: [] },
);
const fieldsByKind: Record<'text' | 'number' | 'bool' | 'json', Operand[]> = {
  text: [field('title'), field('created'), field('author'), field('author.name'), field('author.team.name'), field('editors'), field('editors.name'),
    field('tags'), field('tags', 'each'), field('title', 'lower'), field('tags', 'lower'), field('editors.team.name'),
    { type: 'collection', collection: 'users', path: ['name'] }, { type: 'collection', collection: 'users', alias: 'o', path: ['name'] }, field('id'), field('author.id'),
    { type: 'collection', collection: 'users', path: ['id'] }, { type: 'collection', collection: 'teams', path: ['name'] }, field('editors.id'), field('editors', 'each')],
  number: [field('views'), field('author.age'), field('editors.age'), field('tags', 'length'), field('editors', 'length'),
    { type: 'collection', collection: 'users', path: ['age'] }],
  bool: [field('published'), field('author.active'), field('editors.active'), { type: 'collection', collection: 'users', path: ['active'] }],
  json: [field('data'), field('data.a'), field('data.s')],
};
const kinds = ['text', 'number', 'bool', 'json'] as const;
const opArb = fc.record({ op: fc.constantFrom<CompareOp>('=', '!=', '>', '>=', '<', '<=', '~', '!~'), any: fc.boolean() });

const leaf: fc.Arbitrary<Expr> = fc.constantFrom(...kinds).chain((k) => {
  const lhs = fc.constantFrom(...fieldsByKind[k]);
  const rhs = fc.oneof(
    { weight: 4, arbitrary: lit[k] },
    { weight: 2, arbitrary: fc.constantFrom(...fieldsByKind[k], ...(k === 'json' ? fieldsByKind.text : [])) },
    { weight: 2, arbitrary: requestOperand },
  );
  const ops = k === 'number' || k === 'bool' ? opArb.filter((o) => o.op !== '~' && o.op !== '!~') : opArb;
  return fc.tuple(lhs, ops, rhs, fc.boolean()).map(([l, o, r, swap]): Expr => ({ type: 'compare', op: o.op, any: o.any, left: swap ? r : l, right: swap ? l : r }));
});
const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.record({ type: fc.constantFrom('and' as const, 'or' as const), left: tie('e'), right: tie('e') })),
})).e;

test('parse(print(ast)) deep-equals ast', () => {
  fc.assert(fc.property(expr, (e) => {
    // fast-check builds null-prototype objects; compare the plain-data form
    assert.deepStrictEqual(parseExpression(printExpression(e)), JSON.parse(JSON.stringify(e)));
  }), { numRuns: 500 });
});

async function outcome<T>(fn: () => Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await fn() };
  } catch (e) {
    if (isBasaltError(e) && (e.code === 'filter_invalid' || e.code === 'filter_too_expensive')) return { error: e.code };
    throw e;
  }
}

async function load(t: TestDatabase, data: Record<string, Rec[]>): Promise<void> {
  for (const c of ['posts', 'users', 'teams']) await t.db.run(`DELETE FROM ${t.db.dialect.quoteIdent(c)}`);
  for (const [c, rs] of Object.entries(data)) for (const r of rs) await insert(t.db, c, r);
}

for (const dialect of dialects()) {
  describe(`SQL and predicate agree on ${dialect}`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await freshDatabase(dialect);
      await createTables(t.db);
    });
    after(async () => t?.dispose());

    test(`${RUNS} random datasets × expressions × requests`, async () => {
      let compared = 0;
      let split = 0; // expressions that accept some records and reject others
      await fc.assert(fc.asyncProperty(dataset, expr, request, async (data, e, req) => {
        await load(t, data);
        const src = printExpression(e);
        const viaSql = await outcome(() => sqlIds(t.db, src, req, NOW));
        const viaPredicate = await outcome(() => predicateIds(data, src, req, NOW));
        assert.deepStrictEqual(viaSql, viaPredicate, src);
        if ('ok' in viaSql) {
          compared++;
          if (viaSql.ok.length > 0 && viaSql.ok.length < 5) split++;
        }
      }), { numRuns: RUNS });
      assert.ok(compared > RUNS / 2, `too few comparable expressions (${compared})`);
      assert.ok(split > RUNS / 8, `too few discriminating expressions (${split})`);
      if (process.env.RULES_PROPERTY_STATS) console.log(`${dialect}: ${compared}/${RUNS} compiled, ${split} split the records`);
    });

    test(`${RUNS} random client filters read only what the caller may read`, async () => {
      let compared = 0;
      let guarded = 0; // filters whose answer the guards changed
      await fc.assert(fc.asyncProperty(dataset, expr, request, async (data, e, req) => {
        const src = printExpression(e);
        await load(t, data);
        const viaSql = await outcome(() => sqlIds(t.db, src, req, NOW, 'posts', true));
        const viaPredicate = await outcome(() => predicateIds(data, src, req, NOW, 'posts', true));
        assert.deepStrictEqual(viaSql, viaPredicate, src);
        if (!('ok' in viaSql)) return;
        // the oracle: the unguarded expression over what the caller may read (posts are public)
        const readable = Object.fromEntries(Object.entries(data).map(([c, rs]) => [c, rs.filter((r) => mayRead(c, r, req))]));
        await load(t, readable);
        const oracle = await sqlIds(t.db, src, req, NOW, 'posts', false);
        assert.deepStrictEqual(viaSql.ok, oracle, `client ${src}`);
        assert.deepStrictEqual(await predicateIds(readable, src, req, NOW, 'posts', false), oracle, `oracle agrees in memory: ${src}`);
        compared++;
        await load(t, data);
        if (JSON.stringify(await sqlIds(t.db, src, req, NOW, 'posts', false)) !== JSON.stringify(oracle)) guarded++;
      }), { numRuns: RUNS });
      assert.ok(compared > RUNS / 2, `too few comparable client filters (${compared})`);
      assert.ok(guarded > 0, 'no filter was changed by a guard');
      if (process.env.RULES_PROPERTY_STATS) console.log(`${dialect}: ${compared}/${RUNS} client filters compared, ${guarded} changed by guards`);
    });
  });
}
