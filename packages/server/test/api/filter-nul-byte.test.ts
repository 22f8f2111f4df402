/**
 * Regression: a NUL character (U+0000) in a filter reached PostgreSQL as a text parameter, which it
 * rejects, and the API answered 500. Over HTTP a NUL anywhere in the URL is refused first (400
 * `url_invalid`, api/rest/request-url.ts); callers that reach the records service some other way get
 * a 400 `filter_invalid` from the rule compiler (a NUL in a filter, or in a `@request.*` value a filter
 * or rule reads) or `sort_invalid`, before anything reaches SQL.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS, emptyRequest, type ListParams } from '../../src/records/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios, type ApiScenario } from '../support/scenario.ts';

const list = (collection: string, query: string): ApiScenario['url'] => `/api/collections/${collection}/records?${query}`;

for (const dialect of dialects()) {
  describe(`NUL characters in filters and sort (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'posts', listRule: '', viewRule: '', fields: [{ name: 'title', type: 'text' }] });
      await createCollection(t, { name: 'search', listRule: 'title ~ @request.query.q', viewRule: '', fields: [{ name: 'title', type: 'text' }] });
      await createRecord(t, 'posts', { title: 'a' });
      await createRecord(t, 'search', { title: 'a' });
    });
    after(async () => t.dispose());

    const nul = (s: string) => encodeURIComponent(s);
    // Through the records service directly (a surface other than HTTP): the compiler's own check.
    const direct: Array<{ name: string; collection: string; params: ListParams; query?: Record<string, string>; code: string }> = [
      { name: 'NUL in a string literal', collection: 'posts', params: { filter: 'title = "a\u0000b"' }, code: 'filter_invalid' },
      { name: 'NUL outside a string', collection: 'posts', params: { filter: 'title = "a" \u0000' }, code: 'filter_invalid' },
      { name: 'NUL in a comment', collection: 'posts', params: { filter: 'title = "a" // \u0000' }, code: 'filter_invalid' },
      { name: 'NUL in a query value the filter reads', collection: 'posts', params: { filter: 'title = @request.query.q' }, query: { q: 'a\u0000' }, code: 'filter_invalid' },
      { name: 'NUL in a query value the list rule reads', collection: 'search', params: {}, query: { q: '\u0000' }, code: 'filter_invalid' },
      { name: 'NUL in sort', collection: 'posts', params: { sort: 'title\u0000' }, code: 'sort_invalid' },
    ];
    for (const c of direct) {
      it(`records service: ${c.name} → ${c.code}`, async () => {
        const request = { ...emptyRequest(), query: c.query ?? {} };
        await assert.rejects(t.app.records.list({ principal: ANONYMOUS, request }, c.collection, c.params), (e) => isBasaltError(e) && e.code === c.code);
      });
    }
    runScenarios(() => t, [
      { name: 'NUL in a string literal', method: 'GET', url: list('posts', `filter=${nul('title = "a\u0000b"')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a pattern', method: 'GET', url: list('posts', `filter=${nul('title ~ "\u0000%"')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a pattern for superusers', method: 'GET', url: list('posts', `filter=${nul('title ~ "\u0000"')}`), auth: 'superuser', expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL outside a string', method: 'GET', url: list('posts', `filter=${nul('title = "a" \u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a comment', method: 'GET', url: list('posts', `filter=${nul('title = "a" // \u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a query value the filter reads', method: 'GET', url: list('posts', `filter=${nul('title = @request.query.q')}&q=${nul('a\u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in a query value the list rule reads', method: 'GET', url: list('search', `q=${nul('\u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL in sort', method: 'GET', url: list('posts', `sort=${nul('title\u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'NUL alone in sort', method: 'GET', url: list('posts', `sort=${nul('\u0000')}`), expectedStatus: 400, expectedCode: 'url_invalid' },
      { name: 'the same filter without NUL works', method: 'GET', url: list('posts', `filter=${nul('title = "a"')}`), expectedStatus: 200, expectedContent: ['"totalItems":1'] },
    ]);
  });
}
