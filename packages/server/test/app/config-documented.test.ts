/**
 * docs/configuration.md documents every setting: each key path of the schema has a row there (with
 * its environment variable and flag, when it has them), and the page lists no key the schema lacks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ALIASES, walkSettings } from '../../src/app/index.ts';

const DOC = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');

/** Table rows by their first cell's key: | `http.port` | … */
const rows = new Map<string, string>();
for (const m of DOC.matchAll(/^\|\s*`([A-Za-z][\w.]*)`[^|]*\|(.*)$/gm)) rows.set(m[1], m[2]);

describe('docs/configuration.md lists every setting', () => {
  walkSettings((path, node) => {
    const key = path.join('.');
    it(key, () => {
      const row = rows.get(key);
      assert.ok(row !== undefined, `add a row for \`${key}\` to docs/configuration.md`);
      if (node.env) assert.ok(row.includes(`\`${node.env}\``), `the row of ${key} names ${node.env}`);
      if (node.flag) assert.ok(row.includes(`\`--${node.flag}\``), `the row of ${key} names --${node.flag}`);
    });
  });

  it('lists no key the schema lacks, and documents the aliases', () => {
    const known = new Set<string>();
    walkSettings((path) => known.add(path.join('.')));
    assert.deepEqual([...rows.keys()].filter((k) => !known.has(k)), []);
    for (const [alias, name] of Object.entries(ALIASES)) assert.match(DOC, new RegExp(`\`${name}\` \\(alias \`${alias}\`\\)`));
  });
});
