/**
 * Regression: a NUL character (U+0000) in a filter reached PostgreSQL as a text parameter, which it
 * rejects, and the API answered 500. NUL in a filter (or in a `@request.*` value a filter or rule
 * reads) is now a 400 `filter_invalid` before anything reaches SQL; in `sort` a 400 `sort_invalid`.
 */
import { describe, before, after } from 'node:test';
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
    runScenarios(() => t, [
      { name: 'NUL in a string literal', method: 'GET', url: list('posts', `filter=${nul('title = "a\u0000b"')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in a pattern', method: 'GET', url: list('posts', `filter=${nul('title ~ "\u0000%"')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in a pattern for superusers', method: 'GET', url: list('posts', `filter=${nul('title ~ "\u0000"')}`), auth: 'superuser', expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL outside a string', method: 'GET', url: list('posts', `filter=${nul('title = "a" \u0000')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in a comment', method: 'GET', url: list('posts', `filter=${nul('title = "a" // \u0000')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in a query value the filter reads', method: 'GET', url: list('posts', `filter=${nul('title = @request.query.q')}&q=${nul('a\u0000')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in a query value the list rule reads', method: 'GET', url: list('search', `q=${nul('\u0000')}`), expectedStatus: 400, expectedCode: 'filter_invalid' },
      { name: 'NUL in sort', method: 'GET', url: list('posts', `sort=${nul('title\u0000')}`), expectedStatus: 400, expectedCode: 'sort_invalid' },
      { name: 'NUL alone in sort', method: 'GET', url: list('posts', `sort=${nul('\u0000')}`), expectedStatus: 400, expectedCode: 'sort_invalid' },
      { name: 'the same filter without NUL works', method: 'GET', url: list('posts', `filter=${nul('title = "a"')}`), expectedStatus: 200, expectedContent: ['"totalItems":1'] },
    ]);
  });
}
