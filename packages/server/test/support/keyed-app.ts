/**
 * In-process apps on a server's data with chosen master keys, for the `basalt keys …` tests: seal
 * values under one key, then run the CLI (or the rotation itself) with another.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, loadConfig, type BasaltApp } from '../../src/app/index.ts';
import { SUPERUSER_EMAIL, SUPERUSER_PASSWORD } from './app.ts';
import type { ServerData } from './server-process.ts';

/** An in-process app on the server data, with these master keys, and a superuser token. */
export async function openKeyedApp(data: ServerData, keys: string[]): Promise<{ app: BasaltApp; token: string }> {
  const config = {
    ...loadConfig({ dataDir: data.dir, databaseUrl: data.databaseUrl, databaseSchema: data.databaseSchema, migrationsDir: data.migrationsDir }, {}),
    encryptionKeys: keys,
    logLevel: 'silent' as const,
  };
  const app = await createApp(config, { logger: pino({ level: 'silent' }) });
  await app.auth.upsertSuperuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD);
  const { token } = await app.auth.authWithPassword('_superusers', SUPERUSER_EMAIL, SUPERUSER_PASSWORD, { ip: '127.0.0.1', userAgent: 'basalt-tests' });
  return { app, token };
}

/** Write a JSON configuration file with these keys; answers the `--config` flag pair for the CLI. */
export function keysConfigFile(data: ServerData, name: string, keys: string[]): string[] {
  const file = join(data.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ encryptionKeys: keys }));
  return ['--config', file];
}

/** Create `vault` (one secret field, `apiKey`) with `count` records `v0…`, sealed under `key`, through a batch. */
export async function seedVault(data: ServerData, key: string, count: number): Promise<void> {
  const { app, token } = await openKeyedApp(data, [key]);
  try {
    const headers = { authorization: token };
    const created = await app.http.inject({ method: 'POST', url: '/api/collections', headers, payload: { name: 'vault', fields: [{ name: 'apiKey', type: 'secret' }] } });
    if (created.statusCode !== 200) throw new Error(`create vault: ${created.body}`);
    const requests = Array.from({ length: count }, (_, i) => ({ method: 'POST', url: '/api/collections/vault/records', body: { apiKey: `v${i}` } }));
    const batch = await app.http.inject({ method: 'POST', url: '/api/batch', headers, payload: { requests } });
    if (batch.statusCode !== 200) throw new Error(`seed vault: ${batch.body}`);
  } finally {
    await app.close();
  }
}
