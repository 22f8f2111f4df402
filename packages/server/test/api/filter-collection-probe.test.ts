/**
 * Regression: `@collection.<name>.*` in a client's list filter let anyone probe any collection (a right
 * guess answered totalItems 1, a wrong one 0), superuser-only ones and `_superusers` included. In a
 * client filter a `@collection` join now only matches records the caller may LIST there (listRule
 * `null` = superusers only: nothing); the schema owner's rules keep full access.
 */
import { describe, before, after } from 'node:test';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, signUp, type SignedIn, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';
import { filterScenario, type FilterCase } from '../support/filter-scenarios.ts';

for (const dialect of dialects()) {
  describe(`@collection probes in client filters (${dialect})`, () => {
    let t: TestApp;
    let alice: SignedIn;
    let bob: SignedIn;
    let superuserId = '';
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', listRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id', fields: [] });
      await createCollection(t, {
        name: 'posts', listRule: 'public = true || owner = @request.auth.id', viewRule: 'public = true || owner = @request.auth.id',
        fields: [
          { name: 'title', type: 'text' }, { name: 'public', type: 'bool' },
          { name: 'owner', type: 'relation', collectionId: 'users', maxSelect: 1 },
          { name: 'tags', type: 'select', values: ['news', 'secret', 'draft'], maxSelect: 3 },
        ],
      });
      await createCollection(t, { name: 'comments', listRule: '', viewRule: '', fields: [{ name: 'body', type: 'text' }] });
      await createCollection(t, { name: 'vault', listRule: null, viewRule: null, fields: [{ name: 'code', type: 'text' }, { name: 'pin', type: 'text', hidden: true }] });
      // the owner's rule may read the superuser-only vault: rules keep full access
      await createCollection(t, { name: 'tickets', listRule: '@collection.vault.code ?= code', viewRule: '', fields: [{ name: 'code', type: 'text' }] });
      alice = await signUp(t, 'users', 'alice@example.com');
      bob = await signUp(t, 'users', 'bob@example.com');
      await createRecord(t, 'posts', { title: 'Hello world', public: true, tags: ['news', 'draft'] });
      await createRecord(t, 'posts', { title: 'Secret plan', public: false, owner: alice.id, tags: ['secret'] });
      await createRecord(t, 'posts', { title: 'Other plan', public: false, owner: alice.id, tags: ['news', 'draft', 'secret'] });
      await createRecord(t, 'comments', { body: 'one' });
      await createRecord(t, 'comments', { body: 'two' });
      await createRecord(t, 'vault', { code: 'launch-4711', pin: '0000' });
      await createRecord(t, 'tickets', { code: 'launch-4711' });
      await createRecord(t, 'tickets', { code: 'nothing' });
      const su = await t.app.http.inject({ method: 'GET', url: '/api/collections/_superusers/records', headers: { authorization: t.superuserToken } });
      superuserId = (su.json() as { items: { id: string }[] }).items[0].id;
    });
    after(async () => t.dispose());

    const A = () => alice.token;
    const B = () => bob.token;
    const cases: FilterCase[] = [
      // the review's probe: a private title guessed right must answer like a wrong guess
      { name: 'a right guess of a private title matches nothing', collection: 'comments', filter: '@collection.posts.title ?= "Secret plan"', total: 0 },
      { name: 'a wrong guess matches nothing either', collection: 'comments', filter: '@collection.posts.title ?= "Wrong guess"', total: 0 },
      { name: 'a listable record still matches', collection: 'comments', filter: '@collection.posts.title ?= "Hello world"', total: 2 },
      { name: 'the owner may probe her own private records', collection: 'comments', filter: '@collection.posts.title ?= "Secret plan"', as: A, total: 2 },
      { name: 'another user may not', collection: 'comments', filter: '@collection.posts.title ?= "Secret plan"', as: B, total: 0 },
      { name: 'superusers see everything', collection: 'comments', filter: '@collection.posts.title ?= "Secret plan"', as: 'superuser', total: 2 },
      { name: 'a pattern probe matches nothing', collection: 'comments', filter: '@collection.posts.title ?~ "Sec%"', total: 0 },
      // superuser-only collections
      { name: 'a superuser-only collection matches nothing', collection: 'comments', filter: '@collection.vault.code ?= "launch-4711"', total: 0 },
      { name: 'not even for a signed-in user', collection: 'comments', filter: '@collection.vault.code ?= "launch-4711"', as: A, total: 0 },
      { name: 'a superuser-only collection for superusers', collection: 'comments', filter: '@collection.vault.code ?= "launch-4711"', as: 'superuser', total: 2 },
      { name: 'superuser ids cannot be confirmed', collection: 'comments', filter: () => `@collection._superusers.id ?= "${superuserId}"`, total: 0 },
      { name: 'hidden fields stay unfilterable through @collection', collection: 'comments', filter: '@collection.vault.pin ?= "0000"', code: 'filter_invalid' },
      { name: 'superusers\' emails stay unfilterable', collection: 'comments', filter: '@collection._superusers.email ?~ "root"', code: 'filter_invalid' },
      { name: 'an unknown collection is a 400', collection: 'comments', filter: '@collection.nope.x ?= 1', code: 'filter_invalid' },
      // aliases, modifiers, plain comparisons, OR-combinations
      { name: 'aliased joins are guarded each', collection: 'comments', filter: '@collection.posts:a.title ?= "Secret plan" || @collection.posts:b.title ?= "Other plan"', total: 0 },
      { name: 'aliased joins correlate only listable records', collection: 'comments', filter: '@collection.posts:a.title ?= "Hello world" && @collection.posts:b.public ?= false', total: 0 },
      { name: ':each reads only listable records', collection: 'comments', filter: '@collection.posts.tags:each ?= "secret"', total: 0 },
      { name: ':each for superusers', collection: 'comments', filter: '@collection.posts.tags:each ?= "secret"', as: 'superuser', total: 2 },
      { name: ':length reads only listable records', collection: 'comments', filter: '@collection.posts.tags:length ?= 3', total: 0 },
      { name: ':length for the owner', collection: 'comments', filter: '@collection.posts.tags:length ?= 3', as: A, total: 2 },
      { name: 'a plain comparison holds over listable records only', collection: 'comments', filter: '@collection.posts.public = true', total: 2 },
      { name: 'a plain comparison over all records for superusers', collection: 'comments', filter: '@collection.posts.public = true', as: 'superuser', total: 0 },
      { name: 'OR with a false branch smuggles nothing', collection: 'comments', filter: '@collection.posts.title ?= "Secret plan" || body = "none"', total: 0 },
      { name: 'OR with a true branch is just true', collection: 'comments', filter: '(@collection.posts.title ?= "Secret plan" && @collection.posts.public ?= false) || body = "one"', total: 1 },
      { name: 'a guessed owner id of a private record matches nothing', collection: 'comments', filter: () => `@collection.posts.owner ?= "${alice.id}"`, total: 0 },
      { name: 'the collection itself is guarded too', collection: 'posts', filter: '@collection.posts.title ?= "Secret plan"', total: 0 },
      // the owner's rule reads the superuser-only vault
      { name: 'rules keep full access to @collection', collection: 'tickets', filter: 'code != ""', total: 1 },
    ];
    runScenarios(() => t, cases.map(filterScenario));
  });
}
