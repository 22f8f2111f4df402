/**
 * Table-driven list-filter scenarios: "this caller, listing this collection with this filter, sees
 * this many records (or gets this error code)". Built on {@link runScenarios}.
 */
import assert from 'node:assert/strict';
import type { TestApp } from './app.ts';
import type { ApiScenario } from './scenario.ts';

/** Who asks: anonymous, the superuser, or a token computed once the suite's `before` has run. */
export type Caller = 'anonymous' | 'superuser' | (() => string);

/** One filter case: the expected `totalItems`, or the `code` of a 400. */
export interface FilterCase {
  name: string;
  collection: string;
  /** The filter, or a function computing it once `before` has run (ids created during setup). */
  filter: string | (() => string);
  as?: Caller;
  /** Extra query parameters (`sort`, `q`, …), already encoded. */
  query?: string;
  total?: number;
  code?: string;
}

/** The scenario of one filter case. */
export function filterScenario(c: FilterCase): ApiScenario {
  const as = c.as ?? 'anonymous';
  const filter = () => (typeof c.filter === 'string' ? c.filter : c.filter());
  const url = () => `/api/collections/${c.collection}/records?filter=${encodeURIComponent(filter())}${c.query ? `&${c.query}` : ''}`;
  const auth = as === 'anonymous' || as === 'superuser' ? as : () => as();
  if (c.code) return { name: c.name, method: 'GET', url, auth, expectedStatus: 400, expectedCode: c.code };
  return {
    name: c.name, method: 'GET', url, auth, expectedStatus: 200,
    after: (_t: TestApp, res) => assert.equal((JSON.parse(res.body) as { totalItems: number }).totalItems, c.total, `${filter()} → ${res.body.slice(0, 300)}`),
  };
}
