/**
 * Regression: relation paths in a client's filter (`owner.name = "…"`, `post.owner.email ~ "a%"`) read
 * fields of related records the caller may not view. Every hop of a client filter now applies the
 * related collection's viewRule for the caller (as `expand` does), hidden fields and auth emails stay
 * unfilterable at every hop, back-relations are not part of the filter language, and `sort` takes only
 * the collection's own fields. Superusers keep full access.
 */
import { describe, before, after } from 'node:test';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, signUp, type SignedIn, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';
import { filterScenario, type FilterCase } from '../support/filter-scenarios.ts';

for (const dialect of dialects()) {
  describe(`relation paths in client filters (${dialect})`, () => {
    let t: TestApp;
    let alice: SignedIn;
    let bob: SignedIn;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'teams', listRule: null, viewRule: null, fields: [{ name: 'name', type: 'text' }] });
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '', listRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id',
        fields: [{ name: 'name', type: 'text' }, { name: 'note', type: 'text', hidden: true }, { name: 'team', type: 'relation', collectionId: 'teams', maxSelect: 1 }],
      });
      await createCollection(t, {
        name: 'posts', listRule: 'published = true', viewRule: 'published = true',
        fields: [
          { name: 'title', type: 'text' }, { name: 'published', type: 'bool' },
          { name: 'owner', type: 'relation', collectionId: 'users', maxSelect: 1 },
          { name: 'editors', type: 'relation', collectionId: 'users', maxSelect: 5 },
        ],
      });
      await createCollection(t, {
        name: 'comments', listRule: '', viewRule: '',
        fields: [{ name: 'body', type: 'text' }, { name: 'post', type: 'relation', collectionId: 'posts', maxSelect: 1 }],
      });
      // access rules that join themselves (a hop, and @collection into a superuser-only collection)
      await createCollection(t, {
        name: 'projects', listRule: 'owner.name = "Alice"', viewRule: 'owner.name = "Alice" || @collection.teams.name ?= name',
        fields: [{ name: 'name', type: 'text' }, { name: 'owner', type: 'relation', collectionId: 'users', maxSelect: 1 }],
      });
      await createCollection(t, { name: 'tasks', listRule: '', viewRule: '', fields: [{ name: 'project', type: 'relation', collectionId: 'projects', maxSelect: 1 }] });
      const red = await createRecord(t, 'teams', { name: 'Red' });
      alice = await signUp(t, 'users', 'alice@example.com', { name: 'Alice', team: red.id, note: 'likes cats' });
      bob = await signUp(t, 'users', 'bob@example.com', { name: 'Bob', emailVisibility: true });
      const p1 = await createRecord(t, 'posts', { title: 'By Alice', published: true, owner: alice.id, editors: [alice.id, bob.id] });
      const p2 = await createRecord(t, 'posts', { title: 'By Bob', published: true, owner: bob.id, editors: [bob.id] });
      const draft = await createRecord(t, 'posts', { title: 'Unreleased draft', published: false, owner: alice.id });
      await createRecord(t, 'comments', { body: 'on alice', post: p1.id });
      await createRecord(t, 'comments', { body: 'on bob', post: p2.id });
      await createRecord(t, 'comments', { body: 'on the draft', post: draft.id });
      for (const [name, owner] of [['Apollo', alice.id], ['Zeus', bob.id], ['Red', bob.id]]) {
        const project = await createRecord(t, 'projects', { name, owner });
        await createRecord(t, 'tasks', { project: project.id });
      }
    });
    after(async () => t.dispose());

    const A = () => alice.token;
    const B = () => bob.token;
    const cases: FilterCase[] = [
      // one hop: users are visible to themselves only
      { name: 'a hop into records the caller cannot view matches nothing', collection: 'posts', filter: 'owner.name = "Alice"', total: 0 },
      { name: 'a pattern through a hop matches nothing', collection: 'posts', filter: 'owner.name ~ "A%"', total: 0 },
      { name: 'a hop into the caller\'s own record', collection: 'posts', filter: 'owner.name = "Alice"', as: A, total: 1 },
      { name: 'a hop into someone else\'s record', collection: 'posts', filter: 'owner.name = "Alice"', as: B, total: 0 },
      { name: 'superusers follow every hop', collection: 'posts', filter: 'owner.name = "Alice"', as: 'superuser', total: 2 },
      { name: 'an unviewable record reads as absent', collection: 'posts', filter: 'owner.name = ""', total: 2 },
      { name: 'a negation learns nothing either', collection: 'posts', filter: 'owner.name != "Alice"', total: 2 },
      { name: 'OR smuggles nothing', collection: 'posts', filter: 'owner.name = "Alice" || title = "none"', total: 0 },
      { name: 'the own relation field is readable', collection: 'posts', filter: () => `owner = "${alice.id}"`, total: 1 },
      { name: 'the stored id through .id is readable', collection: 'posts', filter: () => `owner.id = "${alice.id}"`, total: 1 },
      // multi relations and modifiers
      { name: 'a multi hop matches nothing unviewable', collection: 'posts', filter: 'editors.name ?= "Bob"', total: 0 },
      { name: 'a multi hop sees the caller', collection: 'posts', filter: 'editors.name ?= "Bob"', as: B, total: 2 },
      { name: 'every-value comparisons see unviewable records as absent', collection: 'posts', filter: 'editors.name = ""', total: 2 },
      { name: ':each reads the own ids', collection: 'posts', filter: () => `editors:each = "${bob.id}"`, total: 1 },
      { name: ':length reads the own field', collection: 'posts', filter: 'editors:length = 2', total: 1 },
      // nested hops
      { name: 'two hops: the middle record is not viewable', collection: 'comments', filter: 'post.title = "Unreleased draft"', total: 0 },
      { name: 'two hops for superusers', collection: 'comments', filter: 'post.title = "Unreleased draft"', as: 'superuser', total: 1 },
      { name: 'two hops: the last record is not viewable', collection: 'comments', filter: 'post.owner.name = "Alice"', total: 0 },
      { name: 'two hops into the caller\'s own record', collection: 'comments', filter: 'post.owner.name = "Alice"', as: A, total: 1 },
      { name: 'a superuser-only collection at the end of a path', collection: 'posts', filter: 'owner.team.name = "Red"', as: A, total: 0 },
      { name: 'a superuser-only collection for superusers', collection: 'posts', filter: 'owner.team.name = "Red"', as: 'superuser', total: 2 },
      { name: 'three hops', collection: 'comments', filter: 'post.editors.team.name ?= "Red"', as: A, total: 0 },
      // guards whose rules join: the owner's rule reads what the caller may not
      { name: 'a guard with a hop and a @collection join', collection: 'tasks', filter: 'project.name != ""', total: 2 },
      { name: 'a guard that hides a record', collection: 'tasks', filter: 'project.name = "Zeus"', total: 0 },
      { name: 'a guard for superusers', collection: 'tasks', filter: 'project.name != ""', as: 'superuser', total: 3 },
      { name: 'a @collection guard with a hop', collection: 'tasks', filter: '@collection.projects.name ?= "Zeus"', total: 0 },
      { name: 'a @collection guard with a hop admits', collection: 'tasks', filter: '@collection.projects.name ?= "Apollo"', total: 3 },
      { name: 'a guard that scans a collection counts in the budget', collection: 'tasks', filter: '@collection.tasks.project.name ?= "Red"', code: 'filter_too_expensive' },
      // fields that are never filterable for clients
      { name: 'a hidden field one hop away', collection: 'posts', filter: 'owner.note = "likes cats"', as: A, code: 'filter_invalid' },
      { name: 'a hidden field two hops away', collection: 'comments', filter: 'post.owner.note ~ "cat"', as: A, code: 'filter_invalid' },
      { name: 'an auth email one hop away', collection: 'posts', filter: 'owner.email ~ "a%"', code: 'filter_invalid' },
      { name: 'an auth email two hops away', collection: 'comments', filter: 'post.owner.email ~ "a%"', code: 'filter_invalid' },
      { name: 'an auth email, even one that is visible', collection: 'posts', filter: 'owner.email = "bob@example.com"', as: B, code: 'filter_invalid' },
      { name: 'hidden fields at a hop for superusers', collection: 'comments', filter: 'post.owner.note ~ "cat"', as: 'superuser', total: 2 },
      // back-relations are not part of the filter language
      { name: 'back-relations are refused', collection: 'posts', filter: 'comments_via_post.body ?~ "on"', code: 'filter_invalid' },
      { name: 'back-relations through a hop are refused', collection: 'comments', filter: 'post.comments_via_post.body ?~ "on"', code: 'filter_invalid' },
      // sort takes own fields only
      { name: 'sort by a relation path is refused', collection: 'posts', filter: 'title != ""', query: 'sort=owner.name', code: 'sort_invalid' },
      { name: 'sort by a two-hop path is refused', collection: 'comments', filter: 'body != ""', query: 'sort=-post.owner.name', code: 'sort_invalid' },
      { name: 'sort by @collection is refused', collection: 'comments', filter: 'body != ""', query: `sort=${encodeURIComponent('@collection.posts.title')}`, code: 'sort_invalid' },
      { name: 'sort by a hidden field is refused', collection: 'users', filter: 'id != ""', as: A, query: 'sort=note', code: 'sort_invalid' },
      { name: 'sort by the own relation field', collection: 'posts', filter: 'title != ""', query: 'sort=-owner', total: 2 },
    ];
    runScenarios(() => t, cases.map(filterScenario));
  });
}
