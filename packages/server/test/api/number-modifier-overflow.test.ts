/**
 * Regression (review of the hardening): `{"n+": 1.7e308}` twice summed to Infinity, which was stored,
 * shown as `null`, matched `n > 1` and broke cursors. A modifier whose result is not a finite number is
 * now a 400 `validation_failed` (`validation_invalid_number`) and nothing is written.
 */
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

const ID = 'counter00000001';
const url = `/api/collections/counters/records/${ID}`;

for (const dialect of dialects()) {
  describe(`number modifiers never store a non-finite number (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'counters', listRule: '', viewRule: '', createRule: '', updateRule: '', fields: [{ name: 'n', type: 'number' }] });
      await createRecord(t, 'counters', { id: ID, n: 1.7e308 });
    });
    after(async () => t.dispose());

    const stillFinite = async (t: TestApp) => {
      const res = await t.app.http.inject({ method: 'GET', url });
      assert.equal(res.json().n, 1.7e308);
    };
    runScenarios(() => t, [
      { name: 'n+ that overflows to Infinity', method: 'PATCH', url, body: { 'n+': 1.7e308 }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_invalid_number'], after: stillFinite },
      { name: 'n- that overflows to -Infinity', method: 'PATCH', url, body: { 'n-': 1.7e308, n: -1.7e308 }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_invalid_number'], after: stillFinite },
      { name: 'a create whose modifiers overflow', method: 'POST', url: '/api/collections/counters/records', body: { n: 1.7e308, 'n+': 1.7e308 }, expectedStatus: 400, expectedCode: 'validation_failed', expectedContent: ['validation_invalid_number'] },
      { name: 'a finite sum is stored', method: 'PATCH', url, body: { 'n-': 0.7e308 }, expectedStatus: 200, expectedContent: ['"n":1e+308'] },
    ]);
  });
}
