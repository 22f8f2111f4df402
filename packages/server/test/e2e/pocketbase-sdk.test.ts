/**
 * The official `pocketbase` JavaScript SDK against a listening Basalt: ARCHITECTURE promises that apps
 * written against the SDK work with a URL change. Superuser auth, collections, CRUD with modifiers,
 * filters (incl. `pb.filter` escaping), sort, full lists over several pages, expand (single, multi,
 * back-relation), `fields`, `skipTotal`, and the SDK's batch API (atomic commit and atomic failure).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { ClientResponseError, type RecordModel } from 'pocketbase';
import { dialects } from '../support/databases.ts';
import { startTestApp, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, type TestApp } from '../support/app.ts';

/** Run `fn`, expect a ClientResponseError, and answer it. */
async function rejects(fn: () => Promise<unknown>): Promise<ClientResponseError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ClientResponseError, `expected ClientResponseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

/** Count records of a collection through the raw REST API (independent of the SDK). */
async function count(t: TestApp, collection: string, filter = ''): Promise<number> {
  const res = await t.app.http.inject({
    method: 'GET', url: `/api/collections/${collection}/records?perPage=1&filter=${encodeURIComponent(filter)}`, headers: { authorization: t.superuserToken },
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { totalItems: number }).totalItems;
}

for (const dialect of dialects()) {
  describe(`pocketbase SDK against a listening server (${dialect})`, () => {
    let t: TestApp;
    let pb: PocketBase;
    const ids: Record<string, string> = {};

    before(async () => {
      t = await startTestApp(dialect);
      const address = await t.app.listen();
      pb = new PocketBase(address);
      pb.autoCancellation(false);
    });
    after(async () => t?.dispose());

    it('signs a superuser in with authWithPassword', async () => {
      const auth = await pb.collection('_superusers').authWithPassword(SUPERUSER_EMAIL, SUPERUSER_PASSWORD);
      assert.equal(typeof auth.token, 'string');
      assert.ok(auth.token.length > 20);
      assert.equal(auth.record.email, SUPERUSER_EMAIL);
      assert.equal(auth.record.collectionName, '_superusers');
      assert.equal(pb.authStore.isValid, true);
      assert.equal(pb.authStore.isSuperuser, true);
      assert.equal('password' in auth.record, false, 'the password hash is never returned');
    });

    it('rejects a wrong password with a 400 ClientResponseError', async () => {
      const anon = new PocketBase(pb.baseURL);
      const e = await rejects(() => anon.collection('_superusers').authWithPassword(SUPERUSER_EMAIL, 'wrong-password-123'));
      assert.equal(e.status, 400);
      assert.equal(anon.authStore.isValid, false);
    });

    it('creates collections through pb.collections.create', async () => {
      const authors = await pb.collections.create({
        name: 'authors', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [{ name: 'name', type: 'text', required: true }],
      });
      assert.equal(authors.name, 'authors');
      assert.match(authors.id, /^\S+$/);
      const posts = await pb.collections.create({
        name: 'posts', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text', required: true },
          { name: 'views', type: 'number' },
          { name: 'published', type: 'bool' },
          { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 },
          { name: 'editors', type: 'relation', collectionId: 'authors', maxSelect: 5 },
          { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 2 },
          { name: 'created', type: 'autodate', onCreate: true },
          { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
        ],
        indexes: [{ name: 'by_views', columns: ['-views'] }],
      });
      assert.deepEqual(posts.fields.map((f: { name: string }) => f.name), ['id', 'title', 'views', 'published', 'author', 'editors', 'tags', 'created', 'updated']);
      const rel = posts.fields.find((f: { name: string }) => f.name === 'editors') as unknown as { collectionId: string };
      assert.equal(rel.collectionId, authors.id, 'a relation target given by name is stored as the id');
      await pb.collections.create({
        name: 'comments', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [{ name: 'body', type: 'text' }, { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1 }],
      });
      const got = await pb.collections.getOne('posts');
      assert.equal(got.id, posts.id);
      const list = await pb.collections.getFullList();
      assert.deepEqual(list.map((c) => c.name).sort(), ['_roles', '_superusers', 'authors', 'comments', 'posts']);
      const first = await pb.collections.getFirstListItem('name="comments"');
      assert.equal(first.name, 'comments');
    });

    it('refuses an invalid collection with 400 and per-field data', async () => {
      const e = await rejects(() => pb.collections.create({ name: 'bad name!', type: 'base', fields: [] }));
      assert.equal(e.status, 400);
      assert.ok(e.response.data && 'name' in (e.response.data as object), JSON.stringify(e.response));
    });

    it('create, getOne, update (incl. views+ modifier)', async () => {
      const ada = await pb.collection('authors').create({ name: 'Ada' });
      const bob = await pb.collection('authors').create({ name: 'Bob' });
      ids.ada = ada.id;
      ids.bob = bob.id;
      assert.match(ada.id, /^[a-z0-9]{15}$/);
      assert.equal(ada.collectionName, 'authors');

      const p = await pb.collection('posts').create({ title: 'Hello', views: 5, published: true, author: ada.id, editors: [ada.id, bob.id], tags: ['a'] });
      ids.hello = p.id;
      assert.equal(p.title, 'Hello');
      assert.equal(p.views, 5);
      assert.equal(p.published, true);
      assert.equal(p.author, ada.id);
      assert.deepEqual(p.editors, [ada.id, bob.id]);
      assert.deepEqual(p.tags, ['a']);
      assert.match(p.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);

      const one = await pb.collection('posts').getOne(p.id);
      assert.deepEqual(one, p);

      const up = await pb.collection('posts').update(p.id, { 'views+': 1, title: 'Hello, world', 'tags+': 'b' });
      assert.equal(up.views, 6);
      assert.equal(up.title, 'Hello, world');
      assert.deepEqual(up.tags, ['a', 'b']);
      const up2 = await pb.collection('posts').update(p.id, { 'views+': 1 });
      assert.equal(up2.views, 7);
      assert.equal(up2.title, 'Hello, world', 'fields absent from the body keep their values');
      const up3 = await pb.collection('posts').update(p.id, { 'views-': 2, 'editors-': bob.id });
      assert.equal(up3.views, 5);
      assert.deepEqual(up3.editors, [ada.id]);
      assert.equal((await pb.collection('posts').getOne(p.id)).views, 5);

      const tmp = await pb.collection('posts').create({ title: 'temporary' });
      assert.equal(tmp.views, 0, 'absent number reads as 0');
      assert.equal(tmp.author, '', 'absent single relation reads as ""');
      assert.deepEqual(tmp.editors, [], 'absent multi relation reads as []');
      ids.tmp = tmp.id;
    });

    it('deletes a record with pb.collection().delete (the SDK sends Content-Type: application/json without a body)', async () => {
      const tmp = ids.tmp ?? (await pb.collection('posts').create({ title: 'temporary' })).id;
      assert.equal(await pb.collection('posts').delete(tmp), true);
      const e = await rejects(() => pb.collection('posts').getOne(tmp));
      assert.equal(e.status, 404);
      const e2 = await rejects(() => pb.collection('posts').delete(tmp));
      assert.equal(e2.status, 404);
      assert.equal(e2.response.code, 'record_not_found', JSON.stringify(e2.response));
    });

    it('seeds list data through single creates', async () => {
      const titles = ["it's", 'quote "double"', 'back\\slash', 'plain'];
      for (const [i, title] of titles.entries()) {
        await pb.collection('posts').create({ title, views: 100 + i, published: i % 2 === 0, author: ids.bob, tags: ['c'] });
      }
      await pb.collection('comments').create({ body: 'first', post: ids.hello });
      await pb.collection('comments').create({ body: 'second', post: ids.hello });
      assert.equal(await count(t, 'posts', 'views >= 100'), 4);
    });

    it('reports validation errors in ClientResponseError.response.data', async () => {
      const e = await rejects(() => pb.collection('posts').create({ views: 'many', tags: ['a', 'zzz'] }));
      assert.equal(e.status, 400);
      const data = e.response.data as Record<string, { code: string; message: string }>;
      assert.ok(data.title, `missing required title is reported: ${JSON.stringify(e.response)}`);
      assert.ok(data.views, `a non-number is reported: ${JSON.stringify(e.response)}`);
      assert.ok(data.tags, `an unknown select value is reported: ${JSON.stringify(e.response)}`);
      for (const v of Object.values(data)) assert.equal(typeof v.code, 'string');
      const e2 = await rejects(() => pb.collection('posts').create({ title: 'x', author: 'nosuchauthor123' }));
      assert.equal(e2.status, 400);
      assert.ok((e2.response.data as Record<string, unknown>).author, JSON.stringify(e2.response));
      const e3 = await rejects(() => pb.collection('nosuch').getList());
      assert.equal(e3.status, 404);
    });

    it('commits an SDK batch (pb.createBatch) atomically', async () => {
      const batch = pb.createBatch();
      batch.collection('posts').create({ id: 'batchpost000001', title: 'batch one', views: 500, author: ids.ada });
      batch.collection('posts').create({ id: 'batchpost000002', title: 'batch two', views: 501 });
      // Later requests see earlier ones: a comment on a post created in this batch, then an update of it.
      batch.collection('comments').create({ body: 'batch comment', post: 'batchpost000001' });
      batch.collection('posts').update('batchpost000002', { 'views+': 10, title: 'batch two (edited)' });
      batch.collection('posts').upsert({ id: 'batchpost000003', title: 'batch three', views: 503 });
      batch.collection('posts').delete('batchpost000003');
      const res = await batch.send();
      assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200, 200, 204]);
      assert.equal((res[0].body as RecordModel).id, 'batchpost000001');
      assert.equal((res[2].body as RecordModel).post, 'batchpost000001');
      assert.equal((res[3].body as RecordModel).views, 511);
      assert.equal((res[3].body as RecordModel).title, 'batch two (edited)');
      assert.equal(await count(t, 'posts', 'title ~ "batch"'), 2);
      assert.equal(await count(t, 'comments', 'body = "batch comment"'), 1);
      // Keep the list tests below independent of this data.
      await t.app.http.inject({ method: 'DELETE', url: '/api/collections/comments/records/' + String((res[2].body as RecordModel).id), headers: { authorization: t.superuserToken } });
      for (const id of ['batchpost000001', 'batchpost000002']) {
        const del = await t.app.http.inject({ method: 'DELETE', url: `/api/collections/posts/records/${id}`, headers: { authorization: t.superuserToken } });
        assert.equal(del.statusCode, 204, del.body);
      }
    });

    it('a failing SDK batch leaves nothing behind', async () => {
      const before = { posts: await count(t, 'posts'), comments: await count(t, 'comments') };
      const batch = pb.createBatch();
      batch.collection('posts').create({ title: 'never stored 1' });
      batch.collection('comments').create({ body: 'never stored 2', post: ids.hello });
      batch.collection('posts').update(ids.hello, { title: 'never stored 3' });
      batch.collection('posts').create({ views: 1 }); // missing required title
      batch.collection('posts').create({ title: 'never stored 4' });
      const e = await rejects(() => batch.send());
      assert.equal(e.status, 400);
      const data = e.response.data as { requests?: Record<string, { code: string; response?: { status: number; data: Record<string, unknown> } }> };
      assert.ok(data.requests?.['3'], `the failing request's index is reported: ${JSON.stringify(e.response)}`);
      assert.equal(data.requests['3'].response?.status, 400);
      assert.ok(data.requests['3'].response?.data.title, JSON.stringify(e.response));
      assert.deepEqual({ posts: await count(t, 'posts'), comments: await count(t, 'comments') }, before);
      assert.equal(await count(t, 'posts', 'title ~ "never stored"'), 0);
      assert.equal(await count(t, 'comments', 'body ~ "never stored"'), 0);
      assert.equal((await pb.collection('posts').getOne(ids.hello)).title, 'Hello, world');
    });

    it('getList with filter (pb.filter escapes quotes), sort, paging and skipTotal', async () => {
      const quoted = await pb.collection('posts').getList(1, 10, { filter: pb.filter('title = {:t}', { t: "it's" }) });
      assert.equal(quoted.totalItems, 1);
      assert.equal(quoted.items[0].title, "it's");
      const dq = await pb.collection('posts').getList(1, 10, { filter: pb.filter('title = {:t}', { t: 'quote "double"' }) });
      assert.equal(dq.items.length, 1);
      assert.equal(dq.items[0].title, 'quote "double"');
      const combo = await pb.collection('posts').getList(1, 10, {
        filter: pb.filter('views >= {:min} && published = {:pub} && author = {:a}', { min: 100, pub: true, a: ids.bob }),
        sort: '-views',
      });
      assert.deepEqual(combo.items.map((r) => r.views), [102, 100]);
      assert.equal(combo.page, 1);
      assert.equal(combo.perPage, 10);
      assert.equal(combo.totalItems, 2);
      assert.equal(combo.totalPages, 1);

      const page2 = await pb.collection('posts').getList(2, 2, { filter: 'views >= 100', sort: 'views' });
      assert.deepEqual(page2.items.map((r) => r.views), [102, 103]);
      assert.equal(page2.totalItems, 4);
      assert.equal(page2.totalPages, 2);

      const skip = await pb.collection('posts').getList(1, 2, { filter: 'views >= 100', sort: '-views,title', skipTotal: true });
      assert.equal(skip.totalItems, -1);
      assert.equal(skip.totalPages, -1);
      assert.deepEqual(skip.items.map((r) => r.views), [103, 102]);

      const e = await rejects(() => pb.collection('posts').getList(1, 10, { filter: 'nosuchfield = 1' }));
      assert.equal(e.status, 400);
      const e2 = await rejects(() => pb.collection('posts').getList(1, 10, { filter: 'title = ' }));
      assert.equal(e2.status, 400);
    });

    it('getFirstListItem finds one record and 404s when none matches', async () => {
      const r = await pb.collection('posts').getFirstListItem(pb.filter('title = {:t}', { t: 'back\\slash' }));
      assert.equal(r.title, 'back\\slash');
      const e = await rejects(() => pb.collection('posts').getFirstListItem('title = "no such title"'));
      assert.equal(e.status, 404);
    });

    it('expands a single relation, a multi relation and a back-relation', async () => {
      const p = await pb.collection('posts').getOne(ids.hello, { expand: 'author,editors,comments_via_post' });
      const exp = p.expand as { author: RecordModel; editors: RecordModel[]; comments_via_post: RecordModel[] };
      assert.equal(exp.author.id, ids.ada);
      assert.equal(exp.author.name, 'Ada');
      assert.deepEqual(exp.editors.map((x) => x.name), ['Ada']);
      assert.deepEqual(exp.comments_via_post.map((c) => c.body).sort(), ['first', 'second']);
      assert.equal(exp.comments_via_post[0].post, ids.hello);

      const nested = await pb.collection('comments').getFirstListItem('body = "first"', { expand: 'post.author' });
      const post = (nested.expand as { post: RecordModel }).post;
      assert.equal(post.id, ids.hello);
      assert.equal((post.expand as { author: RecordModel }).author.name, 'Ada');

      const list = await pb.collection('posts').getList(1, 50, { filter: 'views >= 100', expand: 'author', sort: 'views' });
      assert.equal(list.items.length, 4);
      for (const item of list.items) assert.equal((item.expand as { author: RecordModel }).author.name, 'Bob');

      const e = await rejects(() => pb.collection('posts').getOne(ids.hello, { expand: 'title' }));
      assert.equal(e.status, 400);
    });

    it('fields picks the returned keys, including inside expand', async () => {
      const p = await pb.collection('posts').getOne(ids.hello, { fields: 'id,title' });
      assert.deepEqual(Object.keys(p).sort(), ['id', 'title']);
      const list = await pb.collection('posts').getList(1, 2, { filter: 'views >= 100', sort: 'views', fields: 'title,expand.author.name', expand: 'author' });
      assert.deepEqual(list.items, [
        { title: "it's", expand: { author: { name: 'Bob' } } },
        { title: 'quote "double"', expand: { author: { name: 'Bob' } } },
      ]);
    });

    it('getFullList reads more than one page (650 records created by batch)', async () => {
      const total = 650;
      // Seeded through the JSON form of /api/batch, so this test does not depend on the SDK's batch encoding.
      for (let start = 0; start < total; start += 200) {
        const requests = [];
        for (let i = start; i < Math.min(total, start + 200); i++) {
          requests.push({ method: 'POST', url: '/api/collections/comments/records', body: { body: `bulk ${String(i).padStart(4, '0')}`, post: ids.hello } });
        }
        const res = await fetch(`${pb.baseURL}/api/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: t.superuserToken }, body: JSON.stringify({ requests }) });
        assert.equal(res.status, 200, await res.clone().text());
        const out = (await res.json()) as { status: number }[];
        assert.ok(out.every((r) => r.status === 200));
      }
      const all = await pb.collection('comments').getFullList({ filter: 'body ~ "bulk"', sort: 'body' });
      assert.equal(all.length, total);
      assert.equal(new Set(all.map((r) => r.id)).size, total);
      assert.deepEqual(all.map((r) => r.body), Array.from({ length: total }, (_, i) => `bulk ${String(i).padStart(4, '0')}`));
      // Small pages force the SDK through several requests.
      const paged = await pb.collection('comments').getFullList({ batch: 100, filter: 'body ~ "bulk"', sort: '-body', fields: 'id,body' });
      assert.equal(paged.length, total);
      assert.equal(paged[0].body, 'bulk 0649');
      assert.equal(paged[total - 1].body, 'bulk 0000');
      assert.equal(new Set(paged.map((r) => r.id)).size, total);
      const back = await pb.collection('posts').getOne(ids.hello, { expand: 'comments_via_post' });
      assert.ok(((back.expand as { comments_via_post: RecordModel[] }).comments_via_post.length) >= 2);
    });

    it('rules apply to SDK callers without a token', async () => {
      await pb.collections.update('posts', { listRule: 'published = true', createRule: null });
      const anon = new PocketBase(pb.baseURL);
      anon.autoCancellation(false);
      const list = await anon.collection('posts').getFullList({ filter: 'views >= 100' });
      assert.deepEqual(list.map((r) => r.views).sort(), [100, 102]);
      const e = await rejects(() => anon.collection('posts').create({ title: 'nope' }));
      assert.equal(e.status, 403);
      const e2 = await rejects(() => anon.collections.getList());
      assert.ok(e2.status === 401 || e2.status === 403, String(e2.status));
    });

    it('refuses to delete a relation target collection', async () => {
      const e = await rejects(() => pb.collections.delete('authors'));
      assert.equal(e.status, 400);
      assert.equal(e.response.code, 'collection_invalid', JSON.stringify(e.response));
    });

    it('deletes a collection through pb.collections.delete', async () => {
      await pb.collections.create({ name: 'scratch', type: 'base', fields: [{ name: 'x', type: 'text' }] });
      assert.equal(await pb.collections.delete('scratch'), true);
      const e = await rejects(() => pb.collections.getOne('scratch'));
      assert.equal(e.status, 404);
    });

    it('user auth: sign-up, listAuthMethods, authWithPassword, authRefresh, owner rules', async () => {
      await pb.collections.create({ name: 'members', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [{ name: 'nick', type: 'text' }] });
      await pb.collections.create({ name: 'diaries', listRule: 'owner = @request.auth.id', viewRule: 'owner = @request.auth.id', createRule: 'owner = @request.auth.id', fields: [{ name: 'text', type: 'text' }, { name: 'owner', type: 'relation', collectionId: 'members', required: true }] });
      const user = new PocketBase(pb.baseURL);
      user.autoCancellation(false);
      const methods = await user.collection('members').listAuthMethods();
      assert.equal(methods.password.enabled, true);
      assert.deepEqual(methods.password.identityFields, ['email']);
      const created = await user.collection('members').create({ email: 'sdk-user@example.com', password: 'sdk user pass 1', passwordConfirm: 'sdk user pass 1', nick: 'sdk' });
      assert.equal(created.nick, 'sdk');
      const auth = await user.collection('members').authWithPassword('sdk-user@example.com', 'sdk user pass 1');
      assert.equal(user.authStore.isValid, true);
      assert.equal(auth.record.id, created.id);
      const before = user.authStore.token;
      await new Promise((r) => setTimeout(r, 1100)); // a new iat, so the renewed token differs
      await user.collection('members').authRefresh();
      assert.notEqual(user.authStore.token, before);
      const diary = await user.collection('diaries').create({ text: 'dear sdk', owner: created.id });
      assert.equal((await user.collection('diaries').getList(1, 10)).totalItems, 1);
      // Someone else sees nothing and cannot read it by id.
      const other = new PocketBase(pb.baseURL);
      other.autoCancellation(false);
      await other.collection('members').create({ email: 'sdk-other@example.com', password: 'sdk other pass 1', passwordConfirm: 'sdk other pass 1' });
      await other.collection('members').authWithPassword('sdk-other@example.com', 'sdk other pass 1');
      assert.equal((await other.collection('diaries').getList(1, 10)).totalItems, 0);
      const e = await rejects(() => other.collection('diaries').getOne(diary.id));
      assert.equal(e.status, 404);
    });
  });
}
