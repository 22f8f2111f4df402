/**
 * Hostile input never reaches SQL text: values travel as params, names must exist in the schema.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, freshDatabase, type TestDatabase } from '../support/databases.ts';
import { compileToSql, parseExpression, type RequestContext } from '../../src/rules/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';
import { createTables, insert, noRequest, schema, withZeros } from './rules-fixture.ts';

const HOSTILE = [
  `x'; DROP TABLE posts; --`,
  `" OR 1=1 --`,
  `') OR ('1'='1`,
  `?`,
  `$1`,
  `\\'; DELETE FROM users; --`,
  `%' UNION SELECT secret FROM users --`,
  `*/ SELECT 1 /*`,
  `\u0001\u2028😀`,
];

function quoteForFilter(s: string): string {
  return '"' + s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"';
}

for (const dialect of dialects()) {
  describe(`injection on ${dialect}`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await freshDatabase(dialect);
      await createTables(t.db);
      await insert(t.db, 'users', withZeros('users', { id: 'u1', name: 'Ann', secret: 's' }));
      await insert(t.db, 'posts', withZeros('posts', { id: 'p1', title: HOSTILE[0], author: 'u1', tags: [HOSTILE[1]] }));
    });
    after(async () => t?.dispose());

    const run = async (filter: string, request: RequestContext = noRequest) => {
      const { sql, params } = compileToSql(parseExpression(filter), {
        dialect: t.db.dialect, schema, collection: 'posts', tableAlias: '"posts"', request, allowHidden: false,
      });
      for (const h of HOSTILE) if (h !== '?') assert.ok(!sql.includes(h), `hostile text in SQL: ${h}`);
      assert.equal((sql.match(/\?/g) ?? []).length, params.length, 'one ? per param');
      return (await t.db.all<{ id: string }>(`SELECT id FROM "posts" WHERE ${sql}`, params)).map((r) => r.id);
    };

    for (const h of HOSTILE) {
      test(`literal ${JSON.stringify(h)} stays a value`, async () => {
        const q = quoteForFilter(h);
        assert.deepStrictEqual(await run(`title = ${q}`), h === HOSTILE[0] ? ['p1'] : []);
        await run(`title ~ ${q} || tags ?= ${q} || author.name != ${q} || data.s = ${q} || created > ${q}`);
      });
      test(`request values ${JSON.stringify(h)} stay values`, async () => {
        const req: RequestContext = {
          auth: { id: h, collectionName: h, roles: [h] }, body: { x: h, arr: [h, h] }, query: { q: h }, headers: { 'x-h': h }, method: h, context: h,
        };
        await run('title = @request.auth.id || tags ?= @request.auth.roles || title ~ @request.body.x || tags ?= @request.body.arr || title = @request.query.q || title = @request.headers.x_h || title = @request.method || data.s = @request.body.x', req);
      });
    }

    test('hostile names are rejected, not quoted into SQL', async () => {
      for (const f of ['title"; DROP TABLE posts; -- = 1', '@collection.posts";--.id = 1', 'author.name) OR (1=1 = 1', '"posts".title = 1', 'pg_sleep = 1', '@collection.pg_user.usename ?= "x"']) {
        await assert.rejects(run(f), (e) => isBasaltError(e) && e.code === 'filter_invalid', f);
      }
    });

    test('tables are intact', async () => {
      assert.equal((await t.db.all('SELECT id FROM "posts"')).length, 1);
      assert.equal((await t.db.all('SELECT id FROM "users"')).length, 1);
    });
  });
}
