/**
 * The SQL compiler against real SQLite and PostgreSQL, on tables in the records layer's storage
 * shapes; every case also runs through the in-memory predicate, which must give the same ids.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, freshDatabase, type TestDatabase } from '../support/databases.ts';
import { compileToSql, compileToPredicate, parseExpression, type RequestContext } from '../../src/rules/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';
import { createTables, insert, noRequest, predicateIds, schema, sqlIds, withZeros, type Rec } from './rules-fixture.ts';

const NOW = new Date(Date.UTC(2024, 4, 15, 12, 30, 45, 123)); // 2024-05-15 12:30:45.123Z

const raw: Record<string, Rec[]> = {
  teams: [{ id: 't1', name: 'Red' }, { id: 't2', name: 'Blue' }],
  users: [
    { id: 'u1', name: 'Ann', age: 30, active: true, team: 't1', roles: ['admin'], secret: 's1' },
    { id: 'u2', name: 'Bob', age: 20, team: 't2' },
    { id: 'u3', name: 'Cyd', age: 40, active: true, team: 't2' },
  ],
  posts: [
    { id: 'p1', title: 'Hello 50% off', views: 10, published: true, data: { a: 1, s: 'x', flag: true, list: [1, 2] }, created: '2024-05-15 08:00:00.000Z', author: 'u1', editors: ['u1', 'u2'], tags: ['a', 'b'] },
    { id: 'p2', title: 'under_score', views: 0, data: { a: '1' }, created: '2024-05-14 08:00:00.000Z', author: 'u2', editors: ['u2'], tags: [] },
    { id: 'p3', title: '', data: null, author: 'zz', editors: ['u3', 'gone'], tags: ['b'] },
    { id: 'p4', title: 'ÉCOLE école "quoted" back\\slash', views: 2.5, data: 'str', created: '2025-01-01 00:00:00.000Z', author: '', editors: [], tags: ['A'] },
  ],
};
const data: Record<string, Rec[]> = Object.fromEntries(Object.entries(raw).map(([c, rs]) => [c, rs.map((r) => withZeros(c, r))]));

const ann: RequestContext = {
  auth: { id: 'u1', collectionName: 'users', roles: ['admin', 'editor'], name: 'Ann', age: 30, profile: { level: 3 } },
  body: { title: 'New', tags: ['a', 'z'], count: 5, empty: [] },
  query: { page: '2', q: 'hello' },
  headers: { 'X-Token': 'secret-token' },
  method: 'POST',
  context: 'default',
};

/** A record of another auth collection whose id equals Ann's (ids must not be confused). */
const member: RequestContext = { ...ann, auth: { id: 'u1', collectionName: 'members', collectionId: 'pbc_members' } };
const apiKey: RequestContext = { ...ann, auth: { id: 'u1', collectionName: '_api_keys', name: 'k' } };
const otherCollectionId: RequestContext = { ...ann, auth: { id: 'u1', collectionName: 'users', collectionId: 'pbc_other' } };
const bob: RequestContext = { ...ann, auth: { id: 'u2', collectionName: 'users', collectionId: 'pbc_users' } };

// [filter, expected ids, request?]
const cases: [string, string[], RequestContext?][] = [
  // plain fields
  ['title = "under_score"', ['p2']],
  ['title != ""', ['p1', 'p2', 'p4']],
  ['title = ""', ['p3']],
  ['title = null', ['p3']],
  ['title != null', ['p1', 'p2', 'p4']],
  ['views > 1', ['p1', 'p4']],
  ['views >= 2.5 && views <= 10', ['p1', 'p4']],
  ['views = 0', ['p2', 'p3']],
  ['views = null', []],
  ['views != null', ['p1', 'p2', 'p3', 'p4']],
  ['views = "10"', ['p1']],
  ['views < 3', ['p2', 'p3', 'p4']],
  ['published = true', ['p1']],
  ['published = false', ['p2', 'p3', 'p4']],
  ['published != true', ['p2', 'p3', 'p4']],
  ['published = 1', ['p1']],
  ['id = "p1" || id = "p3"', ['p1', 'p3']],
  ['(id = "p1" || id = "p2") && views > 5', ['p1']],
  ['title < "a"', ['p1', 'p3']],
  ['title > "z"', ['p4']],
  // contains / like
  ['title ~ "hello"', ['p1']],
  ['title ~ "HELLO"', ['p1']],
  ['title ~ "_"', ['p2']],
  ['title ~ "50%"', []],
  ['title ~ "Hello%"', ['p1']],
  ['title ~ "%off"', ['p1']],
  ['title ~ "50\\%"', ['p1']],
  ['title ~ "école"', ['p4']],
  ['title ~ "ÉCOLE"', ['p4']],
  ['title ~ "\\"quoted\\""', ['p4']],
  ['title ~ "back\\\\slash"', []], // value back\slash: `\s` is a LIKE escape (PocketBase)
  ['title ~ "back\\\\\\\\slash"', ['p4']], // value back\\slash: an escaped backslash
  ['title ~ "x\\\\"', []],
  ['title !~ "o"', ['p3']],
  ['title ~ ""', ['p1', 'p2', 'p3', 'p4']],
  ['title:lower = "under_score"', ['p2']],
  ['title:lower ~ "école école"', []], // :lower folds ASCII only
  ['title:lower ~ "École école"', ['p4']],
  // dates and macros
  ['created > "2024-05-15"', ['p1', 'p4']],
  ['created >= @todayStart && created <= @todayEnd', ['p1']],
  ['created < @now && created != ""', ['p1', 'p2']],
  ['created > @yesterday', ['p1', 'p4']],
  ['created < @tomorrow', ['p1', 'p2', 'p3']],
  ['created >= @monthStart && created <= @monthEnd', ['p1', 'p2']],
  ['created >= @yearStart && created <= @yearEnd', ['p1', 'p2']],
  ['@year = 2024 && @month = 5 && @day = 15 && @hour = 12 && @minute = 30 && @second = 45 && @weekday = 3', ['p1', 'p2', 'p3', 'p4']],
  ['views < @day', ['p1', 'p2', 'p3', 'p4']],
  // single relations
  ['author.name = "Ann"', ['p1']],
  ['author.name != "Ann"', ['p2', 'p3', 'p4']],
  ['author.age > 25', ['p1']],
  ['author.active = true', ['p1']],
  ['author.team.name = "Blue"', ['p2']],
  ['author.team.name ?= "Red"', ['p1']],
  ['author = "zz"', ['p3']],
  ['author.id = "zz"', ['p3']],
  ['author.name = ""', ['p3', 'p4']],
  ['author.name = null', ['p3', 'p4']],
  // multi relation
  ['editors ?= "u2"', ['p1', 'p2']],
  ['editors = "u2"', ['p2']],
  ['editors != "u2"', ['p3', 'p4']],
  ['editors = ""', ['p4']],
  ['editors:length = 2', ['p1', 'p3']],
  ['editors:length = 0', ['p4']],
  ['editors.name ?= "Bob"', ['p1', 'p2']],
  ['editors.name = "Bob"', ['p2']],
  ['editors.age ?> 35', ['p3']],
  ['editors.age > 10', ['p1', 'p2']],
  ['editors.team.name ?= "Blue"', ['p1', 'p2', 'p3']],
  ['editors.team.name = "Blue"', ['p2']],
  ['editors.name ?= "Ann" && editors.age ?< 25', []],
  ['editors.name ?= "Ann" || editors.age ?< 25', ['p1', 'p2']],
  ['editors.id ?= "gone"', []],
  ['editors.name ?= author.name', ['p1', 'p2', 'p3', 'p4']], // dangling/empty read as '' on both sides (COALESCE)
  ['editors.name ?= author.name && author.name != ""', ['p1', 'p2']],
  // multi select
  ['tags ?= "a"', ['p1']],
  ['tags ?= "A"', ['p4']],
  ['tags ?~ "a"', ['p1', 'p4']],
  ['tags:lower ?= "a"', ['p1', 'p4']],
  ['tags = "b"', ['p3']],
  ['tags ?= ""', ['p2']],
  ['tags:each ?= "b"', ['p1', 'p3']],
  ['tags:each ~ "%"', ['p1', 'p3', 'p4']],
  ['tags:length > 1', ['p1']],
  ['tags ?!= "a"', ['p1', 'p2', 'p3', 'p4']],
  ['tags !~ "a"', ['p3']],
  // json
  ['data.a = 1', ['p1']],
  ['data.a = "1"', ['p1', 'p2']],
  ['data.a > 0', ['p1']],
  ['data.s = "x"', ['p1']],
  ['data.flag = true', ['p1']],
  ['data.list.1 = 2', ['p1']],
  ['data = null', ['p3']],
  ['data != null', ['p1', 'p2', 'p4']],
  ['data.missing = null', ['p1', 'p2', 'p3', 'p4']],
  ['data = "str"', ['p4']],
  ['data.s != "x"', ['p2', 'p3', 'p4']],
  ['data.s ~ "X"', ['p1']],
  ['data = ""', []],
  // @collection (correlated: one row must satisfy both conditions)
  ['@collection.users.name ?= "Ann" && @collection.users.age ?> 25', ['p1', 'p2', 'p3', 'p4']],
  ['@collection.users.name ?= "Bob" && @collection.users.age ?> 25', []],
  ['@collection.users:x.name ?= "Bob" && @collection.users:y.age ?> 25', ['p1', 'p2', 'p3', 'p4']],
  ['@collection.users.id ?= author && @collection.users.active ?= true', ['p1']],
  ['@collection.users.team.name ?= "Red" && @collection.users.id ?= author', ['p1']],
  ['@collection.users.age > 10', ['p1', 'p2', 'p3', 'p4']],
  ['@collection.users.age > 25', []],
  ['@collection.teams.name ?= "Blue" && @collection.users.team ?= @collection.teams.id && @collection.users.id ?= author', ['p2']],
  // @request
  ['@request.auth.id != ""', [], noRequest],
  ['@request.auth.id = ""', ['p1', 'p2', 'p3', 'p4'], noRequest],
  ['@request.auth.id = null', ['p1', 'p2', 'p3', 'p4'], noRequest],
  // PocketBase matches the ownerless p4 for anonymous callers; an auth relation compared with
  // @request.auth.id needs a caller of that collection (fail closed), whatever the operator
  ['author = @request.auth.id', [], noRequest],
  ['author != @request.auth.id', [], noRequest],
  ['author != @request.auth.id', ['p2', 'p3', 'p4'], ann],
  ['author = @request.auth.id', [], member],
  ['author != @request.auth.id', [], member],
  ['author.id = @request.auth.id', [], member],
  ['editors ?= @request.auth.id', [], member],
  ['editors:each = @request.auth.id', [], member],
  ['editors.id ?= @request.auth.id', [], member],
  ['@request.auth.id ?= editors.id', [], member],
  ['@collection.users.id ?= @request.auth.id', [], member],
  ['@collection.users.id ?= @request.auth.id', ['p1', 'p2', 'p3', 'p4'], ann],
  ['author = @request.auth.id', [], apiKey],
  ['author = @request.auth.id', [], otherCollectionId],
  ['author = @request.auth.id', ['p1'], { ...ann, auth: { ...ann.auth, collectionId: 'pbc_users' } }],
  ['author = @request.auth.id || title = "under_score"', ['p2'], member],
  ['title != @request.auth.id', ['p1', 'p2', 'p3', 'p4'], member], // not an id of an auth collection
  ['editors:length = @request.body.count', [], member],
  ['author = @request.auth.id', ['p1'], ann],
  ['editors ?= @request.auth.id', ['p1'], ann],
  ['@request.auth.roles ?= "admin"', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.auth.roles ?= "admin"', [], noRequest],
  ['@request.auth.roles = "admin"', [], ann],
  ['@request.auth.collectionName = "users" && views > 5', ['p1'], ann],
  ['@request.auth.profile.level > 2', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.auth.age = author.age', ['p1'], ann],
  ['@request.body.title:isset = true', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.body.nope:isset = true', [], ann],
  ['@request.body.tags:length = 2', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.body.tags ?= "z" && tags ?= "a"', ['p1'], ann],
  ['tags ?= @request.body.tags', ['p1'], ann],
  ['tags = @request.body.tags', [], ann],
  ['tags ?= @request.body.empty', ['p2'], ann],
  ['views < @request.body.count', ['p2', 'p3', 'p4'], ann],
  ['views > @request.query.page', ['p1', 'p4'], ann],
  ['@request.query.page > 1', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.query.page = 2', ['p1', 'p2', 'p3', 'p4'], ann],
  ['title ~ @request.query.q', ['p1'], ann],
  ['@request.headers.x_token = "secret-token"', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.method = "POST" && @request.context = "default"', ['p1', 'p2', 'p3', 'p4'], ann],
  ['@request.method = "GET"', [], ann],
  ['@request.body.title:lower = "new"', ['p1', 'p2', 'p3', 'p4'], ann],
  ['data.a = @request.body.count', [], ann],
  ['data.a < @request.body.count', ['p1'], ann],
  ['views = @request.body.title', [], ann],
  ['views != @request.body.title', ['p1', 'p2', 'p3', 'p4'], ann],
];

// Client filters: relation hops and @collection joins only see what the caller may view / list
// (fixture: users when active or themselves; teams whose name has an a, none here).
const clientCases: [string, string[], RequestContext?][] = [
  ['author.name = "Bob"', []],
  ['author.name = "Bob"', ['p2'], bob],
  ['author.name = ""', ['p2', 'p3', 'p4']],
  ['author.name = "Ann"', ['p1']],
  ['author = "u2"', ['p2']], // the record's own field, no join
  ['author.id = "u2"', ['p2']], // the stored id itself (PocketBase), no join
  ['editors.name ?= "Bob"', []],
  ['editors.name ?= "Bob"', ['p1', 'p2'], bob],
  ['editors.id ?= "u2"', []],
  ['editors.name ?= "Bob" || id = "p3"', ['p3']],
  ['editors:each = "u2"', ['p2']], // own field values
  ['editors:length = 2', ['p1', 'p3']],
  ['author.team.name = "Red"', []],
  ['author.team.name ?= ""', ['p1', 'p2', 'p3', 'p4']],
  ['@collection.users.name ?= "Bob"', []],
  ['@collection.users.name ?= "Bob"', ['p1', 'p2', 'p3', 'p4'], bob],
  ['@collection.users.name ?= "Ann"', ['p1', 'p2', 'p3', 'p4']],
  ['@collection.users.name = "Ann" || @collection.users.name = "Cyd"', []], // every listable user
  ['@collection.users:x.name ?= "Bob" || @collection.users:y.name ?= "Bob"', []],
  ['@collection.users.id ?= author && @collection.users.age ?= 20', []],
  ['@collection.users.id ?= author && @collection.users.age ?= 20', ['p2'], bob],
  ['@collection.teams.name ?= "Blue"', []],
  ['@collection.users.team.name ?= "Red"', []],
];

// [filter, why] client filters refused with filter_too_expensive
const tooExpensive: [string, string][] = [
  ['@collection.users:a.id ?= author && @collection.users:b.id ?= author && @collection.users:c.id ?= author', 'three @collection joins'],
  ['@collection.posts.editors.name ?= "x" && @collection.posts:o.id ?= id', 'two @collection joins times a multi hop'],
  ['editors.team.name ?= "a" && author.team.name = "b" && @collection.users.team.name ?= "c" && @collection.teams.name ?= "d"', 'three @collection joins, one of them a table'],
  ['author.team.name = "a" && editors.team.name ?= "b" && @collection.posts.author.team.name ?= "c" && @collection.posts.editors.team.name ?= "d"', 'nine joins'],
];

const compileErrors: [string, string][] = [
  ['nope = 1', 'unknown field'],
  ['author.nope = 1', 'unknown field through a relation'],
  ['author.secret = "s1"', 'hidden field'],
  ['@collection.users.secret ?= "s1"', 'hidden field via @collection'],
  ['@collection.nope.x = 1', 'unknown collection'],
  ['title.x = 1', 'path through a non-relation'],
  ['views = title', 'number field vs text field'],
  ['views = "abc"', 'non-numeric literal vs number field'],
  ['published = "maybe"', 'non-boolean literal vs bool field'],
  ['views ~ "1"', 'like on a number field'],
  ['title:length > 1', ':length on a single field'],
  ['views:lower = "x"', ':lower on a number'],
  ['@request.method:length = 1', ':length on method'],
  ['@collection.users:a.id ?= id && @collection.teams:a.id ?= id', 'alias reused for another collection'],
  ['author.team.nope.x = 1', 'deep unknown'],
];

for (const dialect of dialects()) {
  describe(`rules SQL on ${dialect}`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await freshDatabase(dialect);
      await createTables(t.db);
      for (const [c, rs] of Object.entries(data)) for (const r of rs) await insert(t.db, c, r);
    });
    after(async () => t?.dispose());

    for (const [filter, want, req] of cases) {
      test(`${filter}${req === ann ? ' (as Ann)' : req === noRequest ? ' (anonymous)' : ''}`, async () => {
        const request = req ?? noRequest;
        assert.deepStrictEqual(await sqlIds(t.db, filter, request, NOW), want, 'sql');
        assert.deepStrictEqual(await predicateIds(data, filter, request, NOW), want, 'predicate');
      });
    }

    for (const [filter, want, req] of clientCases) {
      test(`client filter ${filter}${req === bob ? ' (as Bob)' : ' (anonymous)'}`, async () => {
        const request = req ?? noRequest;
        assert.deepStrictEqual(await sqlIds(t.db, filter, request, NOW, 'posts', true), want, 'sql');
        assert.deepStrictEqual(await predicateIds(data, filter, request, NOW, 'posts', true), want, 'predicate');
      });
    }

    for (const [filter, name] of tooExpensive) {
      test(`client filter refused, ${name}`, async () => {
        const isExpensive = (e: unknown) => isBasaltError(e) && e.code === 'filter_too_expensive';
        await assert.rejects(sqlIds(t.db, filter, noRequest, NOW, 'posts', true), isExpensive);
        await assert.rejects(predicateIds(data, filter, noRequest, NOW, 'posts', true), isExpensive);
        await sqlIds(t.db, filter, noRequest, NOW, 'posts', false); // the owner's budget is larger
      });
    }

    test('the alias example of PocketBase\'s docs fits a client\'s budget', async () => {
      const filter = '@request.auth.id != "" && @collection.users.id ?= author && @collection.users:auth.id ?= @request.auth.id && @collection.users.team ?= @collection.users:auth.team';
      // posts by someone of Bob's team (t2: Bob and Cyd; Cyd wrote none)
      assert.deepStrictEqual(await sqlIds(t.db, filter, bob, NOW, 'posts', true), ['p2']);
      assert.deepStrictEqual(await predicateIds(data, filter, bob, NOW, 'posts', true), ['p2']);
    });

    for (const [filter, name] of compileErrors) {
      test(`rejects ${name}: ${filter}`, () => {
        const expr = parseExpression(filter);
        const isInvalid = (e: unknown) => isBasaltError(e) && e.code === 'filter_invalid';
        assert.throws(() => compileToSql(expr, { dialect: t.db.dialect, schema, collection: 'posts', tableAlias: '"posts"', request: noRequest, allowHidden: false }), isInvalid);
        assert.throws(() => compileToPredicate(expr, { schema, collection: 'posts', allowHidden: false }), isInvalid);
      });
    }

    test('allowHidden lets hidden fields through', async () => {
      const expr = parseExpression('author.secret = "s1"');
      const { sql, params } = compileToSql(expr, { dialect: t.db.dialect, schema, collection: 'posts', tableAlias: '"posts"', request: noRequest, allowHidden: true });
      const rows = await t.db.all(`SELECT id FROM "posts" WHERE ${sql}`, params);
      assert.deepStrictEqual(rows.map((r) => r.id), ['p1']);
    });

    test('unknown root collection is rejected', () => {
      assert.throws(() => compileToPredicate(parseExpression('id = 1'), { schema, collection: 'nope', allowHidden: false }), (e) => isBasaltError(e) && e.code === 'filter_invalid');
    });

    test('works with a table alias', async () => {
      const { sql, params } = compileToSql(parseExpression('editors.name ?= "Bob" && author.name = "Ann"'), {
        dialect: t.db.dialect, schema, collection: 'posts', tableAlias: '"p"', request: noRequest, allowHidden: false,
      });
      const rows = await t.db.all(`SELECT p.id FROM "posts" AS "p" WHERE ${sql}`, params);
      assert.deepStrictEqual(rows.map((r) => r.id), ['p1']);
    });

    test('SQL uses ? placeholders only, never inlined values', () => {
      const { sql, params } = compileToSql(parseExpression('title = "Hello" && views > 3 && data.s = "x"'), {
        dialect: t.db.dialect, schema, collection: 'posts', tableAlias: '"posts"', request: ann, allowHidden: false,
      });
      assert.ok(!sql.includes('Hello'));
      assert.ok(!/\$\d/.test(sql));
      assert.equal((sql.match(/\?/g) ?? []).length, params.length);
      assert.ok(params.includes('Hello') && params.includes(3));
    });
  });
}
