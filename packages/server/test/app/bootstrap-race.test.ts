/**
 * Several nodes starting together on one fresh database (a cluster's first deploy) must all come up,
 * with one `_superusers` collection and one set of system tables.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { join } from 'node:path';
import { createApp, loadConfig, type BasaltConfig } from '../../src/app/index.ts';
import { dialects, freshLocation } from '../support/databases.ts';

// SQLite is a single-node database (node:sqlite is synchronous, so in-process "nodes" would block each
// other's busy waits); several processes on one file are covered by the CLI tests. Clusters run on
// PostgreSQL, which this test covers.
for (const dialect of dialects().filter((d) => d === 'postgres')) {
  describe(`bootstrap race (${dialect})`, () => {
    it('four nodes start at once on a fresh database', async () => {
      const loc = freshLocation(dialect);
      const config: BasaltConfig = {
        ...loadConfig({}, {}),
        dataDir: loc.dir ?? '/tmp/basalt-unused',
        databaseUrl: loc.url ?? '',
        databaseSchema: loc.schema ?? 'public',
        migrationsDir: join(loc.dir ?? '/tmp', 'none'),
        logLevel: 'silent',
      };
      const apps = await Promise.all(Array.from({ length: 4 }, () => createApp(config, { logger: pino({ level: 'silent' }) })));
      try {
        for (const app of apps) assert.ok(app.registry.find('_superusers'));
        const rows = await apps[0].db.all(`SELECT name FROM _collections WHERE name = '_superusers'`);
        assert.equal(rows.length, 1);
      } finally {
        for (const app of apps) await app.close();
        await loc.cleanup();
      }
    });
  });
}
