/**
 * In-process Basalt instances for tests: a fresh database per app (SQLite temp dir or a new PostgreSQL
 * schema), a silent logger, and a signed-in superuser.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, loadConfig, type BasaltApp, type BasaltConfig } from '../../src/app/index.ts';
import { freshLocation, type DialectName } from './databases.ts';

/** A test instance with its superuser token. */
export interface TestApp {
  app: BasaltApp;
  dialect: DialectName;
  /** `Authorization` value of a superuser. */
  superuserToken: string;
  /** Close the app and delete its data. */
  dispose(): Promise<void>;
}

export const SUPERUSER_EMAIL = 'root@example.com';
export const SUPERUSER_PASSWORD = 'a-long-test-password';

/** Start a fresh in-process app (not listening; use `app.http.inject`, or `app.listen()` with port 0). */
export async function startTestApp(dialect: DialectName, overrides: Partial<BasaltConfig> = {}): Promise<TestApp> {
  const loc = freshLocation(dialect);
  const work = mkdtempSync(join(tmpdir(), 'basalt-app-'));
  const config: BasaltConfig = {
    ...loadConfig({}, {}),
    http: { host: '127.0.0.1', port: 0 },
    dataDir: loc.dir ?? work,
    databaseUrl: loc.url ?? '',
    databaseSchema: loc.schema ?? 'public',
    migrationsDir: join(work, 'migrations'),
    logLevel: 'silent',
    ...overrides,
  };
  const app = await createApp(config, { logger: pino({ level: 'silent' }) });
  await app.auth.upsertSuperuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD);
  const { token } = await app.auth.authWithPassword('_superusers', SUPERUSER_EMAIL, SUPERUSER_PASSWORD, { ip: '127.0.0.1', userAgent: 'basalt-tests' });
  return {
    app,
    dialect,
    superuserToken: token,
    dispose: async () => {
      await app.close();
      await loc.cleanup();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Create a collection through the API as superuser; throws with the answer on failure. */
export async function createCollection(t: TestApp, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await t.app.http.inject({ method: 'POST', url: '/api/collections', headers: { authorization: t.superuserToken }, payload: body });
  if (res.statusCode !== 200) throw new Error(`createCollection ${String(body.name)}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** Create a record through the API (as superuser unless `token` is given). */
export async function createRecord(t: TestApp, collection: string, body: Record<string, unknown>, token: string | null = t.superuserToken): Promise<Record<string, unknown>> {
  const res = await t.app.http.inject({
    method: 'POST', url: `/api/collections/${collection}/records`, headers: token ? { authorization: token } : {}, payload: body,
  });
  if (res.statusCode !== 200) throw new Error(`createRecord ${collection}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** A signed-up, signed-in record of an auth collection. */
export interface SignedIn {
  id: string;
  token: string;
  email: string;
}

/** Sign up through the API (the collection's create rule must allow it) and sign in. */
export async function signUp(t: TestApp, collection: string, email: string, extra: Record<string, unknown> = {}): Promise<SignedIn> {
  const password = 'correct horse 1';
  await createRecord(t, collection, { email, password, passwordConfirm: password, ...extra }, null);
  const res = await t.app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-with-password`, payload: { identity: email, password } });
  if (res.statusCode !== 200) throw new Error(`signUp ${collection}: ${res.statusCode} ${res.body}`);
  const body = res.json() as { token: string; record: { id: string } };
  return { id: body.record.id, token: body.token, email };
}
