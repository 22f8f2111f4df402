import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { Collection, Field } from '../../src/schema/collection-model.ts';
import { buildOpenApiDocument, docsAssetRoutes, docsPageHtml, DOCS_CONTENT_SECURITY_POLICY } from '../../src/api/openapi/index.ts';

const idField: Field = { id: 'f_id', name: 'id', type: 'text', system: true, primaryKey: true, required: true, min: 15, max: 15, pattern: '^[a-z0-9]+$', autogeneratePattern: '[a-z0-9]{15}' };
const created: Field = { id: 'f_created', name: 'created', type: 'autodate', onCreate: true, system: true };
const updated: Field = { id: 'f_updated', name: 'updated', type: 'autodate', onCreate: true, onUpdate: true, system: true };

function collection(partial: Partial<Collection> & Pick<Collection, 'id' | 'name' | 'fields'>): Collection {
  return {
    type: 'base', system: false, indexes: [],
    listRule: '', viewRule: '', createRule: '@request.auth.id != ""', updateRule: null, deleteRule: null,
    created: '2024-01-01 00:00:00.000Z', updated: '2024-01-01 00:00:00.000Z',
    ...partial,
  };
}

const superusers = collection({
  id: 'pbc_3142635823', name: '_superusers', type: 'auth', system: true,
  listRule: null, viewRule: null, createRule: null,
  fields: [
    idField,
    { id: 'f_pw', name: 'password', type: 'password', required: true, hidden: true, system: true, min: 8 },
    { id: 'f_tk', name: 'tokenKey', type: 'text', required: true, hidden: true, system: true, min: 30, max: 60 },
    { id: 'f_em', name: 'email', type: 'email', required: true, system: true },
    { id: 'f_ev', name: 'emailVisibility', type: 'bool', system: true },
    { id: 'f_ve', name: 'verified', type: 'bool', system: true },
    created, updated,
  ],
});
const authors = collection({ id: 'authors00000001', name: 'authors', fields: [idField, { id: 'a1', name: 'name', type: 'text', required: true }] });
const tags = collection({ id: 'tags00000000001', name: 'tags', fields: [idField, { id: 't1', name: 'label', type: 'text' }] });
const posts = collection({
  id: 'posts0000000001', name: 'posts',
  listRule: 'status = "published" || author = @request.auth.id',
  fields: [
    idField,
    { id: 'p1', name: 'title', type: 'text', required: true, min: 3, max: 120 },
    { id: 'p2', name: 'slug', type: 'text', pattern: '^[a-z0-9-]+$' },
    { id: 'p3', name: 'rating', type: 'number', min: 0, max: 5 },
    { id: 'p4', name: 'views', type: 'number', onlyInt: true },
    { id: 'p5', name: 'featured', type: 'bool' },
    { id: 'p6', name: 'contact', type: 'email' },
    { id: 'p7', name: 'homepage', type: 'url', required: true },
    { id: 'p8', name: 'publishedAt', type: 'date' },
    { id: 'p9', name: 'status', type: 'select', values: ['draft', 'published'], required: true },
    { id: 'p10', name: 'topics', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    { id: 'p11', name: 'meta', type: 'json', maxSize: 2000 },
    { id: 'p12', name: 'author', type: 'relation', collectionId: 'authors00000001', required: true },
    { id: 'p13', name: 'tags', type: 'relation', collectionId: 'tags00000000001', maxSelect: 5 },
    { id: 'p14', name: 'secretNote', type: 'text', hidden: true },
    { id: 'p15', name: 'pin', type: 'password', min: 4 },
    created, updated,
  ],
});
const odd = collection({ id: 'odd000000000001', name: '_my_table_2', fields: [idField, { id: 'o1', name: 'v_1', type: 'number' }] });
const folds = collection({ id: 'folds0000000001', name: 'myTable2', fields: [idField] });
const all = [superusers, authors, tags, posts, odd, folds];

type Obj = Record<string, any>;
const doc = buildOpenApiDocument(all, { version: '0.1.0', serverUrl: 'http://localhost:8090' }) as Obj;
const schemas = doc.components.schemas as Obj;

describe('buildOpenApiDocument', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, '0.1.0');
    assert.deepEqual(doc.servers, [{ url: 'http://localhost:8090' }]);
  });

  it('is valid with no collections and is JSON-serialisable', async () => {
    const empty = buildOpenApiDocument([], { version: '1.2.3' });
    await SwaggerParser.validate(JSON.parse(JSON.stringify(empty)));
  });

  it('has every component name valid', () => {
    for (const kind of Object.values(doc.components as Obj)) {
      for (const name of Object.keys(kind)) assert.match(name, /^[a-zA-Z0-9._-]+$/, name);
    }
  });

  it('lists the fixed endpoints', () => {
    for (const path of ['/api/health', '/api/collections', '/api/collections/{idOrName}', '/api/batch', '/api/admin/changes', '/metrics', '/api/openapi.json']) {
      assert.ok(doc.paths[path], path);
    }
    assert.ok(doc.paths['/api/collections/{idOrName}'].delete);
    assert.ok(doc.paths['/api/collections'].post);
  });

  it('describes a record: hidden and password fields left out, read-only system members', () => {
    const rec = schemas.PostsRecord;
    assert.equal(rec.type, 'object');
    for (const k of ['collectionId', 'collectionName', 'id', 'expand', 'title', 'status', 'created']) assert.ok(rec.properties[k], k);
    assert.equal(rec.properties.secretNote, undefined);
    assert.equal(rec.properties.pin, undefined);
    assert.equal(rec.properties.collectionName.const, 'posts');
    assert.equal(rec.properties.created.readOnly, true);
    assert.ok(rec.required.includes('title'));
    assert.deepEqual(rec.properties.expand.properties.author, { $ref: '#/components/schemas/AuthorsRecord' });
    assert.deepEqual(rec.properties.expand.properties.tags, { type: 'array', items: { $ref: '#/components/schemas/TagsRecord' } });
    assert.equal(schemas.SuperusersRecord.properties.password, undefined);
    assert.equal(schemas.SuperusersRecord.properties.tokenKey, undefined);
  });

  it('describes a create body from the field options', () => {
    const c = schemas.PostsCreate;
    assert.deepEqual(c.required.sort(), ['author', 'homepage', 'status', 'title']);
    assert.deepEqual(c.properties.title, { type: 'string', minLength: 3, maxLength: 120 });
    assert.deepEqual(c.properties.slug.anyOf[0], { type: 'string', pattern: '^[a-z0-9-]+$' });
    assert.deepEqual(c.properties.rating, { type: 'number', minimum: 0, maximum: 5 });
    assert.equal(c.properties.views.type, 'integer');
    assert.equal(c.properties.featured.type, 'boolean');
    assert.equal(c.properties.contact.anyOf[0].format, 'email');
    assert.equal(c.properties.homepage.format, 'uri');
    assert.equal(c.properties.publishedAt.anyOf[0].format, 'date-time');
    assert.deepEqual(c.properties.status.enum, ['draft', 'published']);
    assert.equal(c.properties.topics.type, 'array');
    assert.deepEqual(c.properties.topics.items.enum, ['a', 'b', 'c']);
    assert.equal(c.properties.topics.maxItems, 3);
    assert.equal(c.properties.author.type, 'string');
    assert.equal(c.properties.tags.type, 'array');
    assert.equal(c.properties.tags.items.type, 'string');
    assert.equal(c.properties.pin.writeOnly, true);
    assert.ok(c.properties.secretNote, 'hidden fields can still be written (by superusers)');
    assert.equal(c.properties.created, undefined, 'autodate is not writable');
    assert.deepEqual(c.properties.id, { type: 'string', pattern: '^[a-z0-9]+$', minLength: 15, maxLength: 15, description: c.properties.id.description });
    assert.equal(schemas.AuthorsCreate.properties.id.pattern, '^[a-z0-9]+$');
    assert.equal(schemas.PostsUpdate.required, undefined);
  });

  it('uses the default id pattern when the collection has no id field definition', () => {
    const d = buildOpenApiDocument([collection({ id: 'x', name: 'bare', fields: [] })], { version: '0' }) as Obj;
    assert.equal(d.components.schemas.BareCreate.properties.id.pattern, '^[a-z0-9]{15}$');
  });

  it('gives each collection its records endpoints, with list parameters and headers', () => {
    const list = doc.paths['/api/collections/posts/records'].get;
    const params = list.parameters.map((p: Obj) => doc.components.parameters[p.$ref.split('/').pop()].name);
    assert.deepEqual(params.sort(), ['If-None-Match', 'cursor', 'expand', 'fields', 'filter', 'page', 'perPage', 'skipTotal', 'sort'].sort());
    assert.equal(doc.components.parameters.perPage.schema.maximum, 1000);
    assert.ok(list.responses['200'].headers.ETag);
    assert.ok(list.responses['304']);
    const listSchema = schemas.PostsListResult;
    assert.ok(listSchema.properties.nextCursor);
    assert.deepEqual(listSchema.required, ['page', 'perPage', 'totalItems', 'totalPages', 'items']);
    const create = doc.paths['/api/collections/posts/records'].post;
    assert.ok(create.parameters.some((p: Obj) => p.$ref === '#/components/parameters/IdempotencyKey'));
    for (const m of ['get', 'patch', 'delete']) assert.ok(doc.paths['/api/collections/posts/records/{id}'][m], m);
    assert.equal(doc.components.parameters.IdempotencyKey.name, 'Idempotency-Key');
  });

  it('spells out rules and security', () => {
    const p = doc.paths['/api/collections/posts/records'];
    assert.match(p.get.description, /rule: status = "published" \|\| author = @request\.auth\.id/);
    assert.match(doc.paths['/api/collections/posts/records/{id}'].patch.description, /[Ss]uperusers only/);
    assert.deepEqual(doc.paths['/api/collections/posts/records/{id}'].patch.security, [{ authToken: [] }]);
    assert.match(doc.paths['/api/collections/posts/records/{id}'].get.description, /Public/);
    assert.equal(p.get['x-basalt-rule'], posts.listRule);
    const scheme = doc.components.securitySchemes.authToken;
    assert.equal(scheme.type, 'apiKey');
    assert.equal(scheme.in, 'header');
    assert.equal(scheme.name, 'Authorization');
    assert.match(scheme.description, /Bearer/);
  });

  it('answers errors as problem+json', () => {
    const problem = schemas.Problem;
    for (const k of ['type', 'title', 'status', 'detail', 'code', 'message', 'data']) assert.ok(problem.properties[k], k);
    assert.ok(problem.properties.code.enum.includes('record_not_found'));
    const resp = doc.paths['/api/collections/posts/records'].post.responses;
    for (const s of ['400', '401', '403', '409', '413', '422', '429']) assert.ok(resp[s], s);
    assert.ok(doc.components.responses.NotFound.content['application/problem+json']);
  });

  it('gives auth collections auth-with-password', () => {
    const op = doc.paths['/api/collections/_superusers/auth-with-password'].post;
    assert.ok(op);
    assert.deepEqual(schemas.SuperusersAuthResponse.properties.record, { $ref: '#/components/schemas/SuperusersRecord' });
    assert.deepEqual(schemas.AuthWithPasswordBody.required, ['identity', 'password']);
    assert.equal(doc.paths['/api/collections/posts/auth-with-password'], undefined);
  });

  it('names components for names with underscores and digits, without collisions', () => {
    assert.ok(schemas.MyTable2Record);
    assert.equal(schemas.MyTable2Record.properties.collectionName.const, '_my_table_2');
    assert.ok(doc.paths['/api/collections/_my_table_2/records']);
    const foldName = Object.keys(schemas).find((k) => k.endsWith('Record') && schemas[k].properties.collectionName.const === 'myTable2');
    assert.ok(foldName && foldName !== 'MyTable2Record', foldName);
    const ids = Object.values(doc.paths as Obj).flatMap((item: Obj) => Object.values(item).map((o: Obj) => o.operationId).filter(Boolean));
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  });

  it('documents batch and the change log', () => {
    assert.deepEqual(schemas.BatchRequest.properties.requests.items.required, ['method', 'url']);
    assert.deepEqual(schemas.ChangeFeed.required, ['items', 'lastSeq']);
    assert.deepEqual(doc.paths['/api/admin/changes'].get.security, [{ authToken: [] }]);
  });
});

describe('docs page', () => {
  it('renders without inline script and points at local assets', () => {
    const html = docsPageHtml('/api/openapi.json?x="<y>"');
    assert.doesNotMatch(html, /<script>(?!<\/script>)/);
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN');
    assert.match(html, /data-spec-url="\/api\/openapi\.json\?x=&#34;&#60;y&#62;&#34;"/);
    for (const r of docsAssetRoutes()) assert.ok(html.includes(r.path) || r.path.endsWith('.png') || r.path.endsWith('.css'), r.path);
    assert.match(DOCS_CONTENT_SECURITY_POLICY, /script-src 'self'/);
  });

  it('lists asset files that exist', () => {
    const routes = docsAssetRoutes();
    assert.ok(routes.length >= 3);
    for (const r of routes) {
      assert.match(r.path, /^\/api\/docs\//);
      assert.ok(existsSync(r.file), r.file);
    }
    const init = routes.find((r) => r.path.endsWith('docs-page-init.js'))!;
    assert.match(readFileSync(init.file, 'utf8'), /SwaggerUIBundle/);
  });
});
