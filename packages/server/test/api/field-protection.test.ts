/**
 * Field-level protection: `readonly` fields (only superusers set them), and the configurable minimum
 * password length of auth collections (never below NIST SP 800-63B's 8, at most 64).
 */
import { describe, before, after } from 'node:test';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { runScenarios } from '../support/scenario.ts';

for (const dialect of dialects()) {
  describe(`field protection (${dialect})`, () => {
    let t: TestApp;
    let orderId = '';
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, {
        name: 'orders', listRule: '', viewRule: '', createRule: '', updateRule: '',
        fields: [{ name: 'item', type: 'text' }, { name: 'price', type: 'number', readonly: true }, { name: 'status', type: 'select', values: ['new', 'paid'], readonly: true }],
      });
      orderId = String((await createRecord(t, 'orders', { item: 'book', price: 12, status: 'paid' })).id);
      await createCollection(t, { name: 'members', type: 'auth', createRule: '', fields: [], passwordAuth: { enabled: true } });
    });
    after(async () => t.dispose());

    runScenarios(() => t, [
      { name: 'anyone may create without touching read-only fields', method: 'POST', url: '/api/collections/orders/records', body: { item: 'pen' }, expectedStatus: 200, expectedContent: ['"price":0', '"status":""'] },
      { name: 'a read-only field cannot be set on create by a non-superuser', method: 'POST', url: '/api/collections/orders/records', body: { item: 'pen', price: 0.01 }, expectedStatus: 400, expectedContent: ['"price":{"code":"validation_forbidden_field"'] },
      { name: 'nor changed on update', method: 'PATCH', url: () => `/api/collections/orders/records/${orderId}`, body: { status: 'new' }, expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'nor through a modifier', method: 'PATCH', url: () => `/api/collections/orders/records/${orderId}`, body: { 'price-': 12 }, expectedStatus: 400, expectedContent: ['validation_forbidden_field'] },
      { name: 'sending the unchanged value is fine', method: 'PATCH', url: () => `/api/collections/orders/records/${orderId}`, body: { item: 'book 2', price: 12 }, expectedStatus: 200, expectedContent: ['"item":"book 2"'] },
      { name: 'superusers set read-only fields', method: 'PATCH', url: () => `/api/collections/orders/records/${orderId}`, auth: 'superuser', body: { price: 15, status: 'new' }, expectedStatus: 200, expectedContent: ['"price":15', '"status":"new"'] },
      { name: 'readonly must be a boolean', method: 'POST', url: '/api/collections', auth: 'superuser', body: { name: 'bad', fields: [{ name: 'x', type: 'text', readonly: 'yes' }] }, expectedStatus: 400, expectedCode: 'collection_invalid' },
      // Password length
      { name: 'the minimum password length defaults to 8', method: 'POST', url: '/api/collections/members/records', body: { email: 'a@example.com', password: 'seven77', passwordConfirm: 'seven77' }, expectedStatus: 400, expectedContent: ['validation_min_text_constraint'] },
      {
        name: 'a collection can require longer passwords', method: 'PATCH', url: '/api/collections/members', auth: 'superuser',
        body: { fields: [{ name: 'password', type: 'password', min: 12 }] }, expectedStatus: 200, expectedContent: ['"min":12'],
      },
      { name: 'then 11 characters are refused', method: 'POST', url: '/api/collections/members/records', body: { email: 'b@example.com', password: 'elevenchars', passwordConfirm: 'elevenchars' }, expectedStatus: 400, expectedContent: ['validation_min_text_constraint'] },
      { name: 'and 12 accepted', method: 'POST', url: '/api/collections/members/records', body: { email: 'c@example.com', password: 'twelve chars', passwordConfirm: 'twelve chars' }, expectedStatus: 200 },
      { name: 'below 8 is refused (NIST floor)', method: 'PATCH', url: '/api/collections/members', auth: 'superuser', body: { fields: [{ name: 'password', type: 'password', min: 6 }] }, expectedStatus: 400, expectedCode: 'collection_invalid' },
      {
        name: 'a new auth collection takes the minimum from its body (PocketBase export shape)', method: 'POST', url: '/api/collections', auth: 'superuser',
        body: { name: 'staff', type: 'auth', fields: [{ name: 'password', type: 'password', min: 16 }] }, expectedStatus: 200, expectedContent: ['"min":16'],
      },
    ]);
  });
}
