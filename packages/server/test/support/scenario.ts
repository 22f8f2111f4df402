/**
 * Table-driven API scenarios (PocketBase's `tests.ApiScenario`, Fastify's `inject()`): each scenario
 * names a request and what the answer must and must not contain, and which record hooks fired.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from './app.ts';

/** One API scenario. */
export interface ApiScenario {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD';
  /** The URL, or a function computing it once `before` has run (ids created during setup). */
  url: string | (() => string);
  /** `'superuser'` adds the superuser's token; a function computes headers from the app. */
  auth?: 'superuser' | 'anonymous' | ((t: TestApp) => string);
  headers?: Record<string, string>;
  /** A JSON body (object) or a raw string body, or a function computing it at request time. */
  body?: unknown | (() => unknown);
  expectedStatus: number;
  /** Substrings the raw body must contain. */
  expectedContent?: string[];
  /** Substrings the raw body must not contain. */
  notExpectedContent?: string[];
  /** The `code` member of a problem+json answer. */
  expectedCode?: string;
  /** Hook events that must fire, e.g. `{ 'create:posts': 1 }`; listed events fire exactly that often, others not at all. */
  expectedEvents?: Record<string, number>;
  /** Runs before the request (e.g. to seed data); its return value is passed to `url`/`body` functions. */
  before?: (t: TestApp) => Promise<void>;
  /** Extra checks after the request. */
  after?: (t: TestApp, res: { statusCode: number; body: string; headers: Record<string, unknown> }) => Promise<void> | void;
}

/**
 * Register one `it` per scenario against the app `get()` returns (apps are created in `before` hooks).
 */
export function runScenarios(get: () => TestApp, scenarios: ApiScenario[]): void {
  for (const s of scenarios) {
    it(s.name, async () => {
      const t = get();
      await s.before?.(t);
      const events: Record<string, number> = {};
      const hookId = t.app.records.hooks.on('*', '*', async (e, next) => {
        const k = `${e.op}:${e.collection.name}`;
        events[k] = (events[k] ?? 0) + 1;
        await next();
      }, { id: `scenario-recorder` });
      let res;
      let url = '';
      try {
        const headers: Record<string, string> = { ...(s.headers ?? {}) };
        if (s.auth === 'superuser') headers.authorization = t.superuserToken;
        else if (typeof s.auth === 'function') headers.authorization = s.auth(t);
        const body = typeof s.body === 'function' ? (s.body as () => unknown)() : s.body;
        const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
        if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
        url = typeof s.url === 'function' ? s.url() : s.url;
        res = await t.app.http.inject({ method: s.method, url, headers, payload });
      } finally {
        t.app.records.hooks.off(hookId);
      }
      const detail = `${s.method} ${url} → ${res.statusCode} ${res.body.slice(0, 600)}`;
      assert.equal(res.statusCode, s.expectedStatus, detail);
      assert.ok(res.statusCode < 500, `never a 5xx: ${detail}`);
      for (const c of s.expectedContent ?? []) assert.ok(res.body.includes(c), `expected ${JSON.stringify(c)} in ${detail}`);
      for (const c of s.notExpectedContent ?? []) assert.ok(!res.body.includes(c), `did not expect ${JSON.stringify(c)} in ${detail}`);
      if (s.expectedCode) {
        assert.match(String(res.headers['content-type']), /application\/problem\+json/, detail);
        assert.equal((res.json() as { code: string }).code, s.expectedCode, detail);
      }
      if (s.expectedEvents) assert.deepEqual(events, s.expectedEvents, `hook events of ${s.name}`);
      await s.after?.(t, { statusCode: res.statusCode, body: res.body, headers: res.headers as Record<string, unknown> });
    });
  }
}
