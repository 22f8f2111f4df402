/**
 * The docs list every error code (CONVENTIONS: "a test checks that the docs list every code", as
 * Fastify checks lib/errors.js against docs/Reference/Errors.md): each code of the catalogue has a
 * row in docs/errors.md with the same HTTP status, and the page lists no code the catalogue lacks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { errorCatalogue } from '../src/errors/index.ts';

const DOC = new URL('../../../docs/errors.md', import.meta.url);

/** `code → status` from the page's table rows: | `code` | 404 | meaning |. */
function documented(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of readFileSync(DOC, 'utf8').matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*\S/gm)) {
    assert.ok(!rows.has(m[1]), `${m[1]} is listed twice in docs/errors.md`);
    rows.set(m[1], Number(m[2]));
  }
  return rows;
}

describe('docs/errors.md lists every error code', () => {
  const rows = documented();
  for (const [code, { status }] of Object.entries(errorCatalogue)) {
    it(`${code} (${status})`, () => {
      assert.ok(rows.has(code), `add a row for ${code} to docs/errors.md: | \`${code}\` | ${status} | meaning |`);
      assert.equal(rows.get(code), status, `docs/errors.md gives ${code} the status of the catalogue`);
    });
  }
  it('lists no code the catalogue lacks', () => {
    const extra = [...rows.keys()].filter((c) => !(c in errorCatalogue));
    assert.deepEqual(extra, []);
  });
});
