/**
 * On PostgreSQL (several nodes may share the data) without configured encryption keys, Basalt warns at
 * start: each node would generate its own key and fail to open the others' sealed values. SQLite (one
 * node, the laptop default) does not warn.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { dialects, freshLocation } from '../support/databases.ts';
import { createApp, loadConfig } from '../../src/app/index.ts';

for (const dialect of dialects()) {
  describe(`warning about generated encryption keys (${dialect})`, () => {
    it(dialect === 'postgres' ? 'warns on PostgreSQL without configured keys, not with them' : 'does not warn on SQLite', async () => {
      for (const keys of dialect === 'postgres' ? [false, true] : [false]) {
        const loc = freshLocation(dialect);
        const dir = mkdtempSync(join(tmpdir(), 'basalt-keywarn-'));
        let out = '';
        const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, cb) { out += String(chunk); cb(); } }));
        const config = {
          ...loadConfig({}, {}),
          dataDir: dir,
          migrationsDir: join(dir, 'migrations'),
          databaseUrl: loc.url ?? '',
          databaseSchema: loc.schema ?? 'public',
          encryptionKeys: keys ? ['k1:' + Buffer.alloc(32, 7).toString('base64')] : [],
        };
        const app = await createApp(config, { logger });
        try {
          const warned = out.includes('every node must share the same keys');
          assert.equal(warned, dialect === 'postgres' && !keys, out);
        } finally {
          await app.close();
          await loc.cleanup();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  });
}
