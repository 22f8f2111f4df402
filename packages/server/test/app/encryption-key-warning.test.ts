/**
 * On PostgreSQL (several nodes may share the data) without configured encryption keys, `basalt serve`
 * warns at start: each node would generate its own key and fail to open the others' sealed values.
 * SQLite (one node, the laptop default) and configured keys do not warn; one-shot CLI commands stay quiet.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, startupWarnings } from '../../src/app/index.ts';

describe('startup warnings', () => {
  const key = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  const cases: { name: string; env: Record<string, string>; warns: boolean }[] = [
    { name: 'SQLite with the generated key: none', env: {}, warns: false },
    { name: 'PostgreSQL with the generated key: shared-key warning', env: { BASALT_DATABASE_URL: 'postgres://u@h:5432/db' }, warns: true },
    { name: 'PostgreSQL with configured keys: none', env: { BASALT_DATABASE_URL: 'postgres://u@h:5432/db', BASALT_ENCRYPTION_KEYS: key }, warns: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const warnings = startupWarnings(loadConfig({}, c.env));
      assert.equal(warnings.some((w) => w.includes('every node must share the same keys')), c.warns, warnings.join('\n'));
      assert.ok(warnings.every((w) => !w.includes(Buffer.alloc(32, 7).toString('base64'))), 'never key material');
    });
  }
});
