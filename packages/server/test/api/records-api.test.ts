import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, type DialectName } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

/** A small blog: authors, posts (relation + multi relation + select + hidden + json), comments. */
async function seedBlog(t: TestApp) {
  await createCollection(t, {
    name: 'authors', listRule: '', viewRule: '',
    fields: [{ name: 'name', type: 'text', required: true }, { name: 'secret', type: 'text', hidden: true }],
  });
  await createCollection(t, {
    name: 'posts', listRule: 'published = true', viewRule: 'published = true', createRule: '', updateRule: 'published = false', deleteRule: null,
    fields: [
      { name: 'title', type: 'text', required: true, max: 100 },
      { name: 'views', type: 'number', min: 0 },
      { name: 'published', type: 'bool' },
      { name: 'author', type: 'relation', collectionId: 'authors', maxSelect: 1 },
      { name: 'editors', type: 'relation', collectionId: 'authors', maxSelect: 5 },
      { name: 'tags', type: 'select', values: ['news', 'tech', 'life'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'internal', type: 'text', hidden: true },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
  });
  await createCollection(t, {
    name: 'comments', listRule: '', viewRule: '', createRule: '',
    fields: [{ name: 'body', type: 'text' }, { name: 'post', type: 'relation', collectionId: 'posts', maxSelect: 1, cascadeDelete: true }],
  });
  const ada = await createRecord(t, 'authors', { id: 'adaadaadaadaada', name: 'Ada', secret: 'TOP-SECRET-VALUE' });
  const bob = await createRecord(t, 'authors', { id: 'bobbobbobbobbob', name: 'Bob' });
  const posts = [];
  for (let i = 0; i < 25; i++) {
    posts.push(await createRecord(t, 'posts', {
      id: `post${String(i).padStart(11, '0')}`, title: `Post ${i}`, views: i * 10, published: i % 5 !== 0,
      author: i % 2 ? ada.id : bob.id, editors: i % 3 ? [ada.id, bob.id] : [], tags: i % 2 ? ['tech'] : ['news', 'life'],
      meta: { n: i }, internal: 'hidden-value',
    }));
  }
  await createRecord(t, 'comments', { id: 'comment00000001', body: 'first!', post: 'post00000000001' });
  await createRecord(t, 'comments', { id: 'comment00000002', body: 'second', post: 'post00000000001' });
  return { ada, bob, posts };
}

/** A fresh app with the blog seeded, for the suite around the call. */
function useBlog(dialect: DialectName): () => TestApp {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(dialect);
    await seedBlog(t);
  });
  after(async () => t.dispose());
  return () => t;
}

for (const dialect of dialects()) {
  describe(`records API (${dialect})`, () => {
    runScenarios(useBlog(dialect), [
      {
        name: 'list applies the list rule for anonymous callers',
        method: 'GET', url: '/api/collections/posts/records?perPage=100',
        expectedStatus: 200, expectedContent: ['"totalItems":20', '"Post 1"'], notExpectedContent: ['"Post 0"', '"Post 5"', 'hidden-value'],
      },
      {
        name: 'superusers bypass rules and see hidden fields',
        method: 'GET', url: '/api/collections/posts/records?perPage=100', auth: 'superuser',
        expectedStatus: 200, expectedContent: ['"totalItems":25', '"Post 0"', 'hidden-value'],
      },
      {
        name: 'filter, sort and paging',
        method: 'GET', url: `/api/collections/posts/records?filter=${encodeURIComponent('views > 100 && tags ?= "tech"')}&sort=-views&perPage=3&page=2`,
        expectedStatus: 200, expectedContent: ['"page":2', '"perPage":3', '"totalItems":6', '"totalPages":2'],
        after: (_t, res) => {
          const body = JSON.parse(res.body) as { items: { views: number }[] };
          assert.deepEqual(body.items.map((x) => x.views), [170, 130, 110]);
        },
      },
      {
        name: 'filter through a relation',
        method: 'GET', url: `/api/collections/posts/records?filter=${encodeURIComponent('author.name = "Ada"')}&skipTotal=1&perPage=100`,
        expectedStatus: 200, expectedContent: ['"totalItems":-1', '"totalPages":-1'],
        after: (_t, res) => {
          const items = (JSON.parse(res.body) as { items: { author: string }[] }).items;
          assert.equal(items.length, 10);
          assert.ok(items.every((x) => x.author === 'adaadaadaadaada'));
        },
      },
      {
        name: 'filtering on a hidden field is rejected for non-superusers',
        method: 'GET', url: `/api/collections/posts/records?filter=${encodeURIComponent('internal = "x"')}`,
        expectedStatus: 400, expectedCode: 'filter_invalid',
      },
      {
        name: 'sorting on a hidden field is rejected for non-superusers',
        method: 'GET', url: '/api/collections/posts/records?sort=internal', expectedStatus: 400, expectedCode: 'sort_invalid',
      },
      {
        name: 'expand single, multi and back relations; hidden fields of expanded records stay hidden',
        method: 'GET', url: '/api/collections/posts/records/post00000000001?expand=author,editors,comments_via_post',
        expectedStatus: 200, expectedContent: ['"expand":{', '"name":"Ada"', '"editors":[', '"comments_via_post":[', 'first!'], notExpectedContent: ['TOP-SECRET-VALUE'],
      },
      {
        name: 'fields picks members, also inside expand',
        method: 'GET', url: '/api/collections/posts/records/post00000000001?expand=author&fields=id,title,expand.author.name',
        expectedStatus: 200,
        after: (_t, res) => assert.deepEqual(JSON.parse(res.body), { id: 'post00000000001', title: 'Post 1', expand: { author: { name: 'Ada' } } }),
      },
      {
        name: 'view of a record outside the view rule is a 404',
        method: 'GET', url: '/api/collections/posts/records/post00000000000', expectedStatus: 404, expectedCode: 'record_not_found',
      },
      {
        name: 'a null rule means superusers only',
        method: 'DELETE', url: '/api/collections/posts/records/post00000000001', expectedStatus: 403, expectedCode: 'superuser_required',
      },
      {
        name: 'update checks the update rule against the stored record',
        method: 'PATCH', url: '/api/collections/posts/records/post00000000001', body: { title: 'nope' }, expectedStatus: 404, expectedCode: 'record_not_found',
      },
      {
        name: 'update with modifiers',
        method: 'PATCH', url: '/api/collections/posts/records/post00000000000', body: { 'views+': 5, 'tags-': 'life', 'tags+': ['tech'] }, auth: 'superuser',
        expectedStatus: 200, expectedContent: ['"views":5', '"tags":["news","tech"]'], expectedEvents: { 'update:posts': 1 },
      },
      {
        name: 'create validates every field at once',
        method: 'POST', url: '/api/collections/posts/records', body: { title: '', views: -1, tags: ['nope'], author: 'missingmissingm' },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['"title"', '"views"', '"tags"'], expectedEvents: {},
      },
      {
        name: 'create checks relations exist',
        method: 'POST', url: '/api/collections/posts/records', body: { title: 'x', author: 'missingmissingm' },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_missing_rel_records'],
      },
      {
        name: 'create with a client id, then the same id again',
        method: 'POST', url: '/api/collections/comments/records', body: { id: 'comment00000001', body: 'dup' },
        expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_not_unique'],
      },
      {
        name: 'create fires the create hook once and returns the record',
        method: 'POST', url: '/api/collections/comments/records', body: { body: 'hello', post: 'post00000000002' },
        expectedStatus: 200, expectedContent: ['"collectionName":"comments"', '"body":"hello"'], expectedEvents: { 'create:comments': 1 },
      },
      {
        name: 'delete cascades to records that reference it',
        method: 'DELETE', url: '/api/collections/posts/records/post00000000001', auth: 'superuser',
        expectedStatus: 204, expectedEvents: { 'delete:posts': 1, 'delete:comments': 2 },
        after: async (t) => {
          const res = await t.app.http.inject({ method: 'GET', url: '/api/collections/comments/records/comment00000001' });
          assert.equal(res.statusCode, 404);
        },
      },
    ]);
  });

  describe(`keyset cursor (${dialect})`, () => {
    runScenarios(useBlog(dialect), [
      {
        name: 'walking with nextCursor visits every visible record exactly once, in order',
        method: 'GET', url: '/api/collections/posts/records?perPage=1', expectedStatus: 200,
        after: async (t) => {
          const seen: number[] = [];
          let cursor: string | undefined;
          for (let guard = 0; guard < 20; guard++) {
            const url = `/api/collections/posts/records?sort=-views,title&perPage=7&skipTotal=1${cursor ? `&cursor=${cursor}` : ''}`;
            const body = (await t.app.http.inject({ method: 'GET', url })).json() as { items: { views: number }[]; nextCursor?: string };
            seen.push(...body.items.map((x) => x.views));
            cursor = body.nextCursor;
            if (!cursor) break;
          }
          const expected = Array.from({ length: 25 }, (_, i) => i).filter((i) => i % 5 !== 0).map((i) => i * 10).sort((a, b) => b - a);
          assert.deepEqual(seen, expected);
        },
      },
      {
        name: 'a tampered cursor is a 400',
        method: 'GET', url: `/api/collections/posts/records?sort=-views&cursor=${Buffer.from(JSON.stringify({ s: '-views,-id', v: ['DROP', 1] })).toString('base64url')}`,
        expectedStatus: 400, expectedCode: 'cursor_invalid',
      },
      {
        name: 'a cursor from another sort is a 400',
        method: 'GET', url: `/api/collections/posts/records?sort=title&cursor=${Buffer.from(JSON.stringify({ s: '-views,-id', v: [1, 'x'] })).toString('base64url')}`,
        expectedStatus: 400, expectedCode: 'cursor_invalid',
      },
    ]);
  });
}
