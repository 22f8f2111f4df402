/**
 * The OpenAPI 3.1 document of Basalt's PocketBase-compatible REST API, generated from the live
 * collections. Pure: collections in, a JSON-serialisable document out; the REST layer serves it at
 * `GET /api/openapi.json` and regenerates it when the schema changes (compile once, serve many).
 */
import type { Collection, Rule } from '../../schema/collection-model.ts';
import { isMultiValued } from '../../schema/collection-model.ts';
import { mfaPaths } from './openapi-mfa.ts';
import { errorCatalogue, type ErrorCode } from '../../errors/index.ts';
import {
  fieldValueSchema, idSchema, isReadable, isWritable, type JsonSchema, type RecordRefResolver,
} from './openapi-fields.ts';

/** Options of {@link buildOpenApiDocument}. */
export interface OpenApiOptions {
  /** Absolute or relative base URL put in `servers`; defaults to `/` (same origin as the document). */
  serverUrl?: string;
  /** The Basalt version, shown as `info.version`. */
  version: string;
}

/** An OpenAPI document: plain JSON data. */
export type OpenApiDocument = Record<string, unknown>;

/** Largest `perPage` the list endpoints accept (larger values are capped, as in PocketBase). */
export const MAX_PER_PAGE = 1000;

const SECURITY_SCHEME = 'authToken';
const AUTH_REQUIRED = [{ [SECURITY_SCHEME]: [] }];
const AUTH_OPTIONAL = [{}, { [SECURITY_SCHEME]: [] }];

const ref = (kind: 'schemas' | 'responses' | 'parameters' | 'headers' | 'requestBodies', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const schemaRef = (name: string) => ref('schemas', name);

/** Error responses, by status, as reusable `components.responses` names. */
const ERROR_RESPONSES: Record<number, { name: string; description: string }> = {
  400: { name: 'BadRequest', description: 'The request is invalid (bad body, filter, sort, expand or cursor).' },
  401: { name: 'Unauthorized', description: 'Missing, invalid or expired token where one is required.' },
  403: { name: 'Forbidden', description: 'The caller is not allowed (superuser required, or the access rule denied it).' },
  404: { name: 'NotFound', description: 'The collection or record does not exist, or the view rule hides it.' },
  409: { name: 'Conflict', description: 'Conflict: the id is taken, or a request with the same `Idempotency-Key` is still in flight.' },
  413: { name: 'PayloadTooLarge', description: 'The request body is too large.' },
  422: { name: 'UnprocessableContent', description: 'The `Idempotency-Key` was already used with a different request.' },
  429: { name: 'TooManyRequests', description: 'Rate limit exceeded; retry after the time in `Retry-After`.' },
  503: { name: 'ServiceUnavailable', description: 'A service the operation needs is not available (e.g. `mail_unavailable`: no SMTP server configured).' },
};

function errors(...statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of statuses) out[String(s)] = ref('responses', ERROR_RESPONSES[s].name);
  return out;
}

/** Statuses every operation that reads data can answer with. */
const READ_ERRORS = [400, 401, 403, 404, 429];
/** Statuses every write can answer with (idempotency and body size included). */
const WRITE_ERRORS = [400, 401, 403, 404, 409, 413, 422, 429];

/** How a rule reads in an operation description, and the security requirement it implies. */
function access(rule: Rule): { text: string; security: unknown[] } {
  if (rule === null) return { text: 'Superusers only (the rule is `null`).', security: AUTH_REQUIRED };
  if (rule === '') return { text: 'Public: anyone may call it, with or without a token (the rule is `""`).', security: AUTH_OPTIONAL };
  return { text: `rule: ${rule}`, security: AUTH_OPTIONAL };
}

const json = (schema: unknown) => ({ 'application/json': { schema } });

/** Turn a collection name into a PascalCase component base (`blog_posts_2` → `BlogPosts2`). */
function pascal(name: string): string {
  return name.split(/_+/).filter(Boolean).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
}

/**
 * Component base names per collection: PascalCase of the name, disambiguated with the collection id
 * when two names fold together (`my_posts` / `myPosts`) — component names must be unique and match
 * `^[a-zA-Z0-9._-]+$`, which collection names (`^[a-zA-Z_][a-zA-Z0-9_]*$`) folded this way always do.
 */
function componentBases(collections: readonly Collection[]): Map<string, string> {
  const used = new Set<string>();
  const out = new Map<string, string>();
  for (const c of collections) {
    let base = pascal(c.name) || 'Collection';
    if (used.has(base)) base = `${base}_${c.id.replace(/[^a-zA-Z0-9._-]/g, '_')}`;
    for (let i = 2; used.has(base); i++) base = `${base}_${i}`;
    used.add(base);
    out.set(c.id, base);
  }
  return out;
}

/** Reusable query parameters (PocketBase's list and read options plus Basalt's cursor). */
const PARAMETERS: Record<string, unknown> = {
  filter: {
    name: 'filter', in: 'query', required: false, schema: { type: 'string' },
    description: 'Filter expression, e.g. `status = "published" && created > "2024-01-01"`. Unknown fields are an error (400 `filter_invalid`).',
  },
  sort: {
    name: 'sort', in: 'query', required: false, schema: { type: 'string' },
    description: 'Comma-separated fields; prefix `-` for descending, e.g. `-created,title`.',
  },
  page: { name: 'page', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 1 }, description: 'Page number (1-based).' },
  perPage: {
    name: 'perPage', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PER_PAGE, default: 30 },
    description: `Items per page (at most ${MAX_PER_PAGE}).`,
  },
  skipTotal: {
    name: 'skipTotal', in: 'query', required: false, schema: { type: 'boolean', default: false },
    description: 'Skip counting: faster; `totalItems` and `totalPages` are then `-1`.',
  },
  fields: {
    name: 'fields', in: 'query', required: false, schema: { type: 'string' },
    description: 'Comma-separated fields to return, e.g. `id,title,expand.author.name`.',
  },
  expand: {
    name: 'expand', in: 'query', required: false, schema: { type: 'string' },
    description: 'Comma-separated relations to expand, nested with dots, e.g. `author,comments_via_post.author`.',
  },
  cursor: {
    name: 'cursor', in: 'query', required: false, schema: { type: 'string' },
    description: 'Basalt keyset pagination: the `nextCursor` of the previous page. Stable and fast on large tables; use it instead of `page`.',
  },
  IfNoneMatch: {
    name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' },
    description: 'An `ETag` from an earlier response; answers 304 Not Modified when the representation has not changed.',
  },
  IdempotencyKey: {
    name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 },
    description: 'Makes the write safe to retry: a repeated request with the same key answers the stored result of the first. '
      + 'Reusing a key with a different request answers 422; a retry while the first is running answers 409.',
  },
};
const p = (name: string) => ref('parameters', name);
const LIST_PARAMS = ['page', 'perPage', 'sort', 'filter', 'skipTotal', 'fields', 'expand', 'cursor', 'IfNoneMatch'].map(p);

const ETAG_HEADERS = { ETag: ref('headers', 'ETag') };

/** The fixed (collection-independent) component schemas. None ends in a per-collection suffix. */
function fixedSchemas(): Record<string, unknown> {
  const codes = Object.keys(errorCatalogue) as ErrorCode[];
  const rule = { type: ['string', 'null'], description: '`null`: superusers only; `""`: everyone; otherwise a filter expression.' };
  const collectionProps = {
    id: { type: 'string', readOnly: true },
    name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
    type: { type: 'string', enum: ['base', 'auth'] },
    system: { type: 'boolean', readOnly: true },
    fields: { type: 'array', items: schemaRef('CollectionField') },
    indexes: { type: 'array', items: schemaRef('CollectionIndex') },
    listRule: schemaRef('Rule'),
    viewRule: schemaRef('Rule'),
    createRule: schemaRef('Rule'),
    updateRule: schemaRef('Rule'),
    deleteRule: schemaRef('Rule'),
    created: { type: 'string', format: 'date-time', readOnly: true },
    updated: { type: 'string', format: 'date-time', readOnly: true },
  };
  return {
    Problem: {
      type: 'object',
      description: 'An error (RFC 9457 `application/problem+json`) that also carries PocketBase\'s `status`, `message` and `data` '
        + 'members. Match on `code`, which is stable; messages may change.',
      required: ['status', 'code', 'message'],
      properties: {
        type: { type: 'string', format: 'uri-reference', description: 'Identifies the problem type.' },
        title: { type: 'string', description: 'Short summary of the problem type.' },
        status: { type: 'integer', minimum: 400, maximum: 599, description: 'The HTTP status code.' },
        detail: { type: 'string', description: 'Explanation specific to this occurrence.' },
        instance: { type: 'string', format: 'uri-reference' },
        code: { type: 'string', enum: codes, description: 'Stable, machine-readable error code.' },
        message: { type: 'string', description: 'Human-readable message (PocketBase compatible).' },
        mfaId: { type: 'string', description: 'With `mfa_required` (401): the first factor is proven; sign in with another method and this id.' },
        data: {
          type: 'object', additionalProperties: true,
          description: 'Details; for validation errors, one entry per field: `{ "title": { "code": "validation_required", "message": "Cannot be blank." } }`.',
        },
      },
      examples: [{
        type: 'about:blank', title: 'Bad Request', status: 400, code: 'validation_failed',
        message: errorCatalogue.validation_failed.message,
        data: { title: { code: 'validation_required', message: 'Cannot be blank.' } },
      }],
    },
    Health: {
      type: 'object', required: ['code', 'message'],
      properties: { code: { type: 'integer', examples: [200] }, message: { type: 'string', examples: ['API is healthy.'] }, data: { type: 'object' } },
    },
    Rule: rule,
    CollectionField: {
      type: 'object',
      description: 'A field definition. Type-specific options (`min`, `max`, `pattern`, `values`, `maxSelect`, `collectionId`, '
        + '`onCreate`, `onUpdate`, …) sit beside the common ones.',
      required: ['name', 'type'],
      properties: {
        id: { type: 'string' },
        name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
        type: { type: 'string', enum: ['text', 'number', 'bool', 'email', 'url', 'date', 'select', 'json', 'relation', 'autodate', 'password', 'secret'] },
        required: { type: 'boolean' },
        hidden: { type: 'boolean' },
        system: { type: 'boolean' },
        presentable: { type: 'boolean' },
        unique: { type: 'boolean' },
      },
      additionalProperties: true,
    },
    CollectionIndex: {
      type: 'object', required: ['name', 'columns'],
      properties: {
        name: { type: 'string' },
        columns: { type: 'array', items: { type: 'string' }, description: 'Column names; `-name` sorts descending.' },
        unique: { type: 'boolean' },
      },
    },
    CollectionModel: {
      type: 'object',
      required: ['id', 'name', 'type', 'system', 'fields', 'indexes', 'listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule', 'created', 'updated'],
      properties: collectionProps,
    },
    CollectionModelInput: {
      type: 'object',
      description: 'A collection to create, or the members to change (PATCH). A field with a known `id` and a new `name` is a rename.',
      properties: (({ system: _s, created: _c, updated: _u, ...rest }) => ({ ...rest, id: { type: 'string', description: 'Optional on create.' } }))(collectionProps),
    },
    CollectionModelList: listResultSchema(schemaRef('CollectionModel')),
    AuthWithPasswordBody: {
      type: 'object', required: ['identity', 'password'],
      properties: {
        identity: { type: 'string', description: 'The email (or another identity field) of the account.' },
        password: { type: 'string', format: 'password', writeOnly: true },
        identityField: { type: 'string', description: 'Which identity field to match; by default any of them.' },
        mfaId: { type: 'string', description: 'MFA: the `mfaId` of a first factor of another method (also accepted as a query parameter).' },
      },
    },
    BatchRequest: {
      type: 'object', required: ['requests'],
      properties: {
        requests: {
          type: 'array', minItems: 1,
          items: {
            type: 'object', required: ['method', 'url'],
            properties: {
              method: { type: 'string', enum: ['POST', 'PUT', 'PATCH', 'DELETE'] },
              url: { type: 'string', description: 'A record endpoint, e.g. `/api/collections/posts/records` or `/api/collections/posts/records/{id}`.' },
              body: { type: 'object', additionalProperties: true },
              headers: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
        },
      },
    },
    BatchResult: {
      type: 'array', description: 'One result per request, in order.',
      items: { type: 'object', required: ['status', 'body'], properties: { status: { type: 'integer' }, body: { description: 'The response body of that request.' } } },
    },
    ChangeEvent: {
      type: 'object', required: ['seq', 'collection', 'recordId', 'op', 'data', 'created'],
      properties: {
        seq: { type: 'integer', minimum: 1, description: 'Sequence number, in commit order.' },
        collection: { type: 'string' },
        recordId: { type: 'string' },
        op: { type: 'string', enum: ['create', 'update', 'delete'] },
        data: { type: 'object', additionalProperties: true, description: 'The record after the write (before it, for deletes).' },
        created: { type: 'string', format: 'date-time' },
      },
    },
    ChangeFeed: {
      type: 'object', required: ['items', 'lastSeq'],
      properties: {
        items: { type: 'array', items: schemaRef('ChangeEvent') },
        lastSeq: { type: 'integer', minimum: 0, description: 'Pass as `after` to read on.' },
      },
    },
  };
}

function listResultSchema(item: unknown, cursor = false): JsonSchema {
  const properties: Record<string, unknown> = {
    page: { type: 'integer', minimum: 1 },
    perPage: { type: 'integer', minimum: 1, maximum: MAX_PER_PAGE },
    totalItems: { type: 'integer', minimum: -1, description: '`-1` with `skipTotal`.' },
    totalPages: { type: 'integer', minimum: -1, description: '`-1` with `skipTotal`.' },
    items: { type: 'array', items: item },
  };
  if (cursor) properties.nextCursor = { type: 'string', description: 'Pass as `cursor` to fetch the next page; absent on the last page.' };
  return { type: 'object', required: ['page', 'perPage', 'totalItems', 'totalPages', 'items'], properties };
}

/** The three record schemas of one collection. */
function recordSchemas(c: Collection, resolve: RecordRefResolver): { record: JsonSchema; create: JsonSchema; update: JsonSchema } {
  const readProps: Record<string, unknown> = {
    collectionId: { type: 'string', const: c.id, readOnly: true },
    collectionName: { type: 'string', const: c.name, readOnly: true },
    id: { ...idSchema(c), readOnly: true },
  };
  const readRequired = ['collectionId', 'collectionName', 'id'];
  const expandProps: Record<string, unknown> = {};
  const createProps: Record<string, unknown> = {
    id: { ...idSchema(c), description: 'Optional: a client-chosen id; generated when absent.' },
  };
  const createRequired: string[] = [];
  const updateProps: Record<string, unknown> = {};

  for (const f of c.fields) {
    const value = fieldValueSchema(f, resolve);
    if (isReadable(f)) {
      readProps[f.name] = value;
      // Auth records show `email` only to their owner, superusers, or when `emailVisibility` is on.
      if (!(c.type === 'auth' && f.name === 'email')) readRequired.push(f.name);
    }
    if (f.type === 'relation') {
      const target = resolve(f.collectionId);
      if (target) expandProps[f.name] = isMultiValued(f) ? { type: 'array', items: { $ref: target.ref } } : { $ref: target.ref };
    }
    if (isWritable(f)) {
      const w = f.hidden ? { ...value, description: [value.description, 'Hidden: superusers only.'].filter(Boolean).join(' ') } : value;
      createProps[f.name] = w;
      updateProps[f.name] = w;
      if (f.required) createRequired.push(f.name);
    }
  }
  readProps.expand = {
    type: 'object', readOnly: true, additionalProperties: true, properties: expandProps,
    description: 'Expanded relations, present when `expand` was requested (back-relations as `<collection>_via_<field>`).',
  };
  if (c.type === 'auth') {
    createProps.passwordConfirm = { type: 'string', format: 'password', writeOnly: true, description: 'Must equal `password` (PocketBase compatible).' };
    updateProps.passwordConfirm = createProps.passwordConfirm;
    updateProps.oldPassword = { type: 'string', format: 'password', writeOnly: true, description: 'The current password; required when a non-superuser changes `password`.' };
  }
  const what = `a \`${c.name}\` record`;
  return {
    record: { type: 'object', description: `${what[0].toUpperCase()}${what.slice(1)} as returned by the API.`, required: readRequired, properties: readProps },
    create: { type: 'object', description: `Body to create ${what}.`, required: createRequired, properties: createProps },
    update: { type: 'object', description: `Members of ${what} to change; absent members keep their value.`, properties: updateProps },
  };
}

/** Paths of one collection's records API. */
function recordPaths(c: Collection, base: string): Record<string, unknown> {
  const tag = `Records: ${c.name}`;
  const recordRef = schemaRef(`${base}Record`);
  const basePath = `/api/collections/${c.name}/records`;
  const list = access(c.listRule);
  const view = access(c.viewRule);
  const create = access(c.createRule);
  const update = access(c.updateRule);
  const del = access(c.deleteRule);
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'The record id.' };
  const rule = (r: Rule) => ({ 'x-basalt-rule': r });
  const paths: Record<string, unknown> = {
    [basePath]: {
      get: {
        tags: [tag], operationId: `list${base}Records`, summary: `List ${c.name} records`,
        description: `Paginated, filtered and sorted records. ${list.text}` + (typeof c.listRule === 'string' && c.listRule !== '' ? ' Records the rule does not allow are left out.' : ''),
        security: list.security, ...rule(c.listRule),
        parameters: LIST_PARAMS,
        responses: {
          200: { description: 'A page of records.', headers: ETAG_HEADERS, content: json(schemaRef(`${base}ListResult`)) },
          304: ref('responses', 'NotModified'),
          ...errors(...READ_ERRORS.filter((s) => s !== 404)),
        },
      },
      post: {
        tags: [tag], operationId: `create${base}Record`, summary: `Create a ${c.name} record`,
        description: `Creates a record. ${create.text}`,
        security: create.security, ...rule(c.createRule),
        parameters: [p('IdempotencyKey'), p('fields'), p('expand')],
        requestBody: { required: true, content: json(schemaRef(`${base}Create`)) },
        responses: { 200: { description: 'The created record.', content: json(recordRef) }, ...errors(...WRITE_ERRORS) },
      },
    },
    [`${basePath}/{id}`]: {
      parameters: [idParam],
      get: {
        tags: [tag], operationId: `view${base}Record`, summary: `View a ${c.name} record`,
        description: `One record. ${view.text}`,
        security: view.security, ...rule(c.viewRule),
        parameters: [p('fields'), p('expand'), p('IfNoneMatch')],
        responses: {
          200: { description: 'The record.', headers: ETAG_HEADERS, content: json(recordRef) },
          304: ref('responses', 'NotModified'),
          ...errors(...READ_ERRORS),
        },
      },
      patch: {
        tags: [tag], operationId: `update${base}Record`, summary: `Update a ${c.name} record`,
        description: `Changes the given members. ${update.text}`,
        security: update.security, ...rule(c.updateRule),
        parameters: [p('IdempotencyKey'), p('fields'), p('expand')],
        requestBody: { required: true, content: json(schemaRef(`${base}Update`)) },
        responses: { 200: { description: 'The updated record.', content: json(recordRef) }, ...errors(...WRITE_ERRORS) },
      },
      delete: {
        tags: [tag], operationId: `delete${base}Record`, summary: `Delete a ${c.name} record`,
        description: `Deletes the record. ${del.text}`,
        security: del.security, ...rule(c.deleteRule),
        parameters: [p('IdempotencyKey')],
        responses: { 204: { description: 'Deleted.' }, ...errors(...WRITE_ERRORS.filter((s) => s !== 413)) },
      },
    },
  };
  if (c.type === 'auth') {
    paths[`/api/collections/${c.name}/auth-with-password`] = {
      post: {
        tags: [tag], operationId: `authWithPassword${base}`, summary: `Sign in to ${c.name} with a password`,
        description: 'Answers an access token and the signed-in record. Send the token in the `Authorization` header (bare, or as `Bearer <token>`).',
        security: AUTH_OPTIONAL,
        parameters: [p('fields'), p('expand')],
        requestBody: { required: true, content: json(schemaRef('AuthWithPasswordBody')) },
        responses: { 200: { description: 'Signed in.', content: json(schemaRef(`${base}AuthResponse`)) }, ...errors(400, 401, 404, 413, 429) },
      },
    };
    paths[`/api/collections/${c.name}/auth-refresh`] = {
      post: {
        tags: [tag], operationId: `authRefresh${base}`, summary: `Refresh a ${c.name} session`,
        description: 'With `refreshToken` in the body: the token is rotated (each token works once; a replayed token revokes its whole session family) and a new access token and successor are answered. '
          + 'Without a body (PocketBase form): a still-valid access token of this collection in `Authorization` is renewed.',
        security: AUTH_OPTIONAL,
        requestBody: { required: false, content: json({ type: 'object', properties: { refreshToken: { type: 'string' } }, additionalProperties: false }) },
        responses: { 200: { description: 'A new access token (and refresh token).', content: json(schemaRef(`${base}AuthResponse`)) }, ...errors(400, 401, 404, 429) },
      },
    };
    paths[`/api/collections/${c.name}/auth-methods`] = {
      get: {
        tags: [tag], operationId: `authMethods${base}`, summary: `How to sign in to ${c.name}`,
        description: 'The sign-in methods this collection offers (PocketBase shape).',
        security: AUTH_OPTIONAL,
        parameters: [{ name: 'redirectURL', in: 'query', required: false, schema: { type: 'string', format: 'uri' }, description: 'Basalt: pin the OAuth2 flows to this redirect URI; each `authURL` is then complete, and `auth-with-oauth2` refuses any other redirect URI (`oauth_redirect_mismatch`).' }],
        responses: {
          200: {
            description: 'Sign-in methods.',
            content: json({
              type: 'object', required: ['password', 'oauth2', 'mfa', 'otp'],
              properties: {
                password: { type: 'object', properties: { enabled: { type: 'boolean' }, identityFields: { type: 'array', items: { type: 'string' } } } },
                oauth2: {
                  type: 'object',
                  properties: {
                    enabled: { type: 'boolean' },
                    providers: {
                      type: 'array',
                      description: 'One new single-use sign-in flow per provider (expires after 10 minutes). Append your redirect URI to `authURL` (it ends in `redirect_uri=`), unless the flow was pinned with `redirectURL`.',
                      items: {
                        type: 'object', required: ['name', 'displayName', 'state', 'authURL', 'codeVerifier', 'codeChallenge', 'codeChallengeMethod'],
                        properties: {
                          name: { type: 'string' }, displayName: { type: 'string' }, state: { type: 'string' }, authURL: { type: 'string' },
                          codeVerifier: { type: 'string' }, codeChallenge: { type: 'string' }, codeChallengeMethod: { type: 'string', enum: ['S256'] },
                        },
                      },
                    },
                  },
                },
                mfa: { type: 'object', properties: { enabled: { type: 'boolean' }, duration: { type: 'integer' } } },
                otp: { type: 'object', properties: { enabled: { type: 'boolean' }, duration: { type: 'integer' } } },
              },
            }),
          },
          ...errors(404),
        },
      },
    };
    paths[`/api/collections/${c.name}/auth-with-oauth2`] = {
      post: {
        tags: [tag], operationId: `authWithOAuth2${base}`, summary: `Sign in to ${c.name} with an OAuth2 / OpenID Connect provider`,
        description: 'Completes a flow from `auth-methods`: the flow is found by `state` (Basalt) or by the PKCE `codeVerifier` (PocketBase), used once, and the code is exchanged with the provider. '
          + 'Signs in the linked account, links a provider account whose verified email matches a verified account, or creates an account (the create rule applies; `createData` cannot set `email` or `verified`). '
          + 'A signed-in caller of this collection links the provider account to itself. `meta` carries the provider profile, never its tokens. See docs/oauth.md.',
        security: AUTH_OPTIONAL,
        requestBody: {
          required: true,
          content: json({
            type: 'object', required: ['provider', 'code', 'redirectURL'],
            properties: {
              provider: { type: 'string' }, code: { type: 'string' }, codeVerifier: { type: 'string', minLength: 43, maxLength: 128 },
              redirectURL: { type: 'string', description: 'Exactly the redirect URI of the authorization request.' },
              state: { type: 'string', description: 'Basalt: the `state` the provider sent back.' },
              iss: { type: 'string', description: 'Basalt: the `iss` the provider sent back (RFC 9207), if any.' },
              createData: { type: 'object', additionalProperties: true, description: 'Values for a new account (not `email`, `verified`).' },
              mfaId: { type: 'string' },
            },
          }),
        },
        responses: {
          200: {
            description: 'Signed in.',
            content: json({
              allOf: [schemaRef(`${base}AuthResponse`), {
                type: 'object',
                properties: {
                  meta: {
                    type: 'object',
                    properties: { id: { type: 'string' }, name: { type: 'string' }, username: { type: 'string' }, email: { type: 'string' }, avatarURL: { type: 'string' }, isNew: { type: 'boolean' }, rawUser: { type: 'object' } },
                  },
                },
              }],
            }),
          },
          ...errors(400, 401, 403, 404, 409, 429),
          502: { description: 'The provider could not be reached or answered unexpectedly (`oauth_provider_error`).', content: { 'application/problem+json': { schema: schemaRef('Problem') } } },
        },
      },
    };
    paths[`/api/collections/${c.name}/oauth2-identities`] = {
      get: {
        tags: [tag], operationId: `listOAuth2Identities${base}`, summary: `List the provider accounts linked to the caller's ${c.name} record`,
        security: AUTH_REQUIRED,
        responses: {
          200: {
            description: 'Linked identities (no provider tokens).',
            content: json({ type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, provider: { type: 'string' }, providerId: { type: 'string' }, email: { type: 'string' }, created: { type: 'string' }, updated: { type: 'string' } } } } } }),
          },
          ...errors(401, 403, 404),
        },
      },
    };
    paths[`/api/collections/${c.name}/oauth2-identities/{id}`] = {
      delete: {
        tags: [tag], operationId: `unlinkOAuth2Identity${base}`, summary: `Unlink a provider account from the caller's ${c.name} record`,
        security: AUTH_REQUIRED,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 204: { description: 'Unlinked.' }, ...errors(401, 403, 404) },
      },
    };
    paths[`/api/collections/${c.name}/auth-sessions`] = {
      get: {
        tags: [tag], operationId: `authSessions${base}`, summary: `List the caller's ${c.name} sessions`,
        description: 'Live sessions (refresh-token families) of the signed-in record; `current` marks the one the token belongs to.',
        security: AUTH_REQUIRED,
        responses: {
          200: {
            description: 'Sessions.',
            content: json({
              type: 'object', required: ['items'],
              properties: { items: { type: 'array', items: { type: 'object', required: ['id', 'created', 'lastUsed', 'expires', 'current'], properties: { id: { type: 'string' }, created: { type: 'string' }, lastUsed: { type: 'string' }, expires: { type: 'string' }, current: { type: 'boolean' } } } } },
            }),
          },
          ...errors(401, 403, 404),
        },
      },
    };
    paths[`/api/collections/${c.name}/auth-sessions/{session}`] = {
      delete: {
        tags: [tag], operationId: `authSessionRevoke${base}`, summary: `End one ${c.name} session, or all others`,
        description: 'Ends the session with this id; `others` ends every session but the current one.',
        security: AUTH_REQUIRED,
        parameters: [{ name: 'session', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 204: { description: 'Ended.' }, ...errors(400, 401, 403, 404) },
      },
    };
    paths[`/api/collections/${c.name}/auth-logout`] = {
      post: {
        tags: [tag], operationId: `authLogout${base}`, summary: `End ${c.name} sessions`,
        description: 'Revokes the session of `refreshToken`, or with `all: true` every session of the caller.',
        security: AUTH_REQUIRED,
        requestBody: { required: true, content: json({ type: 'object', properties: { refreshToken: { type: 'string' }, all: { type: 'boolean' } }, additionalProperties: false }) },
        responses: { 204: { description: 'Ended.' }, ...errors(400, 401, 404) },
      },
    };
    Object.assign(paths, authEmailPaths(c.name, tag, base));
    Object.assign(paths, mfaPaths(c.name, tag, base));
  }
  return paths;
}

/** The email flows of an auth collection (docs/auth-email.md): verification, reset, email change, OTP. */
function authEmailPaths(name: string, tag: string, base: string): Record<string, unknown> {
  const body = (props: Record<string, unknown>) => ({ required: true, content: json({ type: 'object', required: Object.keys(props), properties: props }) });
  const str = { type: 'string' };
  const email = { type: 'string', format: 'email', maxLength: 254 };
  const noEnum = ' The answer is the same whether or not an account has the address (no account enumeration).';
  const op = (id: string, summary: string, description: string, props: Record<string, unknown>, responses: Record<string, unknown>, auth = AUTH_OPTIONAL) => ({
    post: { tags: [tag], operationId: `${id}${base}`, summary, description, security: auth, requestBody: body(props), responses },
  });
  const done = { 204: { description: 'Done.' } };
  return {
    [`/api/collections/${name}/request-verification`]: op('requestVerification', `Mail a ${name} verification link`,
      `Mails a single-use verification token to the address if it belongs to an unverified record.${noEnum}`, { email }, { ...done, ...errors(400, 404, 429, 503) }),
    [`/api/collections/${name}/confirm-verification`]: op('confirmVerification', `Confirm a ${name} email`,
      'Marks the token\'s record verified. The token works once, expires, and dies when the email or password changes (`email_token_invalid`).', { token: str }, { ...done, ...errors(400, 404, 429) }),
    [`/api/collections/${name}/request-password-reset`]: op('requestPasswordReset', `Mail a ${name} password reset link`,
      `Mails a single-use password reset token to the address if it belongs to a record.${noEnum}`, { email }, { ...done, ...errors(400, 404, 429, 503) }),
    [`/api/collections/${name}/confirm-password-reset`]: op('confirmPasswordReset', `Set a new ${name} password`,
      'Sets the password (the password policy applies) and ends every session of the record.', { token: str, password: str, passwordConfirm: str }, { ...done, ...errors(400, 404, 429) }),
    [`/api/collections/${name}/request-email-change`]: op('requestEmailChange', `Mail a ${name} email change link to the new address`,
      'Signed in to this collection. Mails a single-use confirmation token to the new address; an address already taken is refused.', { newEmail: email }, { ...done, ...errors(400, 401, 403, 404, 429, 503) }, AUTH_REQUIRED),
    [`/api/collections/${name}/confirm-email-change`]: op('confirmEmailChange', `Confirm a new ${name} email`,
      'With the token and the account\'s current password: changes the email, marks it verified and ends every session.', { token: str, password: str }, { ...done, ...errors(400, 404, 429) }),
    [`/api/collections/${name}/request-otp`]: op('requestOtp', `Mail a ${name} one-time password`,
      `Answers an \`otpId\` and mails a one-time code to the address if it belongs to a record.${noEnum} Only when \`otp.enabled\` (else 403 \`otp_disabled\`).`, { email },
      { 200: { description: 'The OTP id to send back with the code.', content: json({ type: 'object', required: ['otpId'], properties: { otpId: str } }) }, ...errors(400, 403, 404, 429, 503) }),
    [`/api/collections/${name}/auth-with-otp`]: op('authWithOtp', `Sign in to ${name} with a one-time password`,
      'Signs in with the `otpId` and the mailed code (in `password`, as PocketBase names it). A code works once and is burnt after 5 wrong tries (`otp_invalid`).',
      { otpId: str, password: str }, { 200: { description: 'Signed in.', content: json(schemaRef(`${base}AuthResponse`)) }, ...errors(400, 403, 404, 429) }),
  };
}

/** Paths that do not depend on collections. */
function fixedPaths(): Record<string, unknown> {
  const superuser = 'Superusers only.';
  const collectionParam = { name: 'idOrName', in: 'path', required: true, schema: { type: 'string' }, description: 'Collection id or name.' };
  return {
    '/api/health': {
      get: {
        tags: ['Health'], operationId: 'health', summary: 'Health check', security: AUTH_OPTIONAL,
        description: 'Answers 200 while the server can serve requests.',
        responses: { 200: { description: 'Healthy.', content: json(schemaRef('Health')) }, ...errors(429) },
      },
    },
    '/api/collections': {
      get: {
        tags: ['Collections'], operationId: 'listCollections', summary: 'List collections', description: superuser, security: AUTH_REQUIRED,
        parameters: ['page', 'perPage', 'sort', 'filter', 'skipTotal', 'fields', 'IfNoneMatch'].map(p),
        responses: {
          200: { description: 'A page of collections.', headers: ETAG_HEADERS, content: json(schemaRef('CollectionModelList')) },
          304: ref('responses', 'NotModified'), ...errors(400, 401, 403, 429),
        },
      },
      post: {
        tags: ['Collections'], operationId: 'createCollection', summary: 'Create a collection', description: superuser, security: AUTH_REQUIRED,
        parameters: [p('IdempotencyKey')],
        requestBody: { required: true, content: json(schemaRef('CollectionModelInput')) },
        responses: { 200: { description: 'The created collection.', content: json(schemaRef('CollectionModel')) }, ...errors(400, 401, 403, 409, 413, 422, 429) },
      },
    },
    '/api/collections/{idOrName}': {
      parameters: [collectionParam],
      get: {
        tags: ['Collections'], operationId: 'viewCollection', summary: 'View a collection', description: superuser, security: AUTH_REQUIRED,
        parameters: [p('IfNoneMatch')],
        responses: {
          200: { description: 'The collection.', headers: ETAG_HEADERS, content: json(schemaRef('CollectionModel')) },
          304: ref('responses', 'NotModified'), ...errors(401, 403, 404, 429),
        },
      },
      patch: {
        tags: ['Collections'], operationId: 'updateCollection', summary: 'Update a collection',
        description: `${superuser} Changing fields migrates the table.`, security: AUTH_REQUIRED,
        parameters: [p('IdempotencyKey')],
        requestBody: { required: true, content: json(schemaRef('CollectionModelInput')) },
        responses: { 200: { description: 'The updated collection.', content: json(schemaRef('CollectionModel')) }, ...errors(...WRITE_ERRORS) },
      },
      delete: {
        tags: ['Collections'], operationId: 'deleteCollection', summary: 'Delete a collection',
        description: `${superuser} System collections cannot be deleted.`, security: AUTH_REQUIRED,
        parameters: [p('IdempotencyKey')],
        responses: { 204: { description: 'Deleted.' }, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    '/api/batch': {
      post: {
        tags: ['Batch'], operationId: 'batch', summary: 'Several record writes in one transaction',
        description: 'Runs the requests in order in one transaction: all succeed or none does. Each request is checked against its collection\'s rules.',
        security: AUTH_OPTIONAL,
        parameters: [p('IdempotencyKey')],
        requestBody: { required: true, content: json(schemaRef('BatchRequest')) },
        responses: { 200: { description: 'The results, in request order.', content: json(schemaRef('BatchResult')) }, ...errors(...WRITE_ERRORS) },
      },
    },
    '/api/admin/changes': {
      get: {
        tags: ['Changes'], operationId: 'readChanges', summary: 'Read the change log',
        description: `${superuser} Committed writes with \`seq > after\`, oldest first; resume with \`after=lastSeq\`.`, security: AUTH_REQUIRED,
        parameters: [
          { name: 'after', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 }, description: 'Return events after this sequence number.' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 }, description: 'At most this many events.' },
        ],
        responses: { 200: { description: 'Change events.', content: json(schemaRef('ChangeFeed')) }, ...errors(400, 401, 403, 429) },
      },
    },
    '/api/admin/audit': {
      get: {
        tags: ['Operations'], operationId: 'readAudit', summary: 'Read the audit trail',
        description: `${superuser} Sign-ins and failures, refresh-token reuse, password changes, logouts, key rotation and every superuser action, oldest first.`, security: AUTH_REQUIRED,
        parameters: [
          { name: 'after', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 }, description: 'Return entries after this sequence number.' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 }, description: 'At most this many entries.' },
          { name: 'action', in: 'query', required: false, schema: { type: 'string', pattern: '^[a-z_.]{1,64}$' }, description: 'One action (`auth.signin`) or a prefix ending in a dot (`auth.`).' },
        ],
        responses: {
          200: {
            description: 'Audit entries.',
            content: json({
              type: 'object', required: ['items'],
              properties: {
                items: {
                  type: 'array',
                  items: {
                    type: 'object', required: ['seq', 'created', 'action', 'outcome', 'actor', 'target', 'ip', 'details'],
                    properties: {
                      seq: { type: 'integer' }, created: { type: 'string' }, action: { type: 'string' }, outcome: { type: 'string', enum: ['success', 'failure'] },
                      actor: { type: 'string' }, target: { type: 'string' }, ip: { type: 'string' }, details: { type: 'object' },
                    },
                  },
                },
              },
            }),
          },
          ...errors(400, 401, 403, 429),
        },
      },
    },
    '/.well-known/jwks.json': {
      get: {
        tags: ['Operations'], operationId: 'jwks', summary: 'Access-token verification keys',
        description: 'The public ES256 keys (RFC 7517 JWK set) that verify Basalt access tokens, including retired keys whose tokens may not have expired.',
        responses: { 200: { description: 'JWK set.', content: json({ type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } }) } },
      },
    },
    '/metrics': {
      get: {
        tags: ['Operations'], operationId: 'metrics', summary: 'Prometheus metrics',
        description: 'Metrics in the Prometheus text exposition format (see docs/operations.md for the series). Off the public port by default '
          + '(404): served here only when `metrics.token` is configured, to `Authorization: Bearer <metrics token>` (not a user token), or on the '
          + 'separate `metrics.http` listener.',
        responses: {
          200: { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          401: { description: 'Missing or wrong metrics token (`metrics_unauthorized`).' },
          404: { description: 'Metrics are not served on this port (no `metrics.token`, or a separate `metrics.http` listener).' },
        },
      },
    },
    '/api/openapi.json': {
      get: {
        tags: ['Operations'], operationId: 'openapi', summary: 'This OpenAPI document', description: 'Generated from the live schema.',
        responses: { 200: { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
    '/api/docs': {
      get: {
        tags: ['Operations'], operationId: 'docs', summary: 'API reference page', description: 'A browsable page for this document; works offline.',
        responses: { 200: { description: 'HTML page.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
  };
}

/**
 * Build the OpenAPI 3.1 document for the given collections. Hidden and password fields never appear in
 * record responses; password fields are write-only; rules are spelled out per operation (`null` =
 * superusers only, `""` = public, otherwise `rule: <expr>`) and in `x-basalt-rule`.
 *
 * @example
 * const doc = buildOpenApiDocument(await collections.list(), { version: '0.1.0', serverUrl: 'https://api.example.com' });
 * reply.send(doc);
 */
export function buildOpenApiDocument(collections: readonly Collection[], options: OpenApiOptions): OpenApiDocument {
  const bases = componentBases(collections);
  const byId = new Map(collections.map((c) => [c.id, c]));
  const byName = new Map(collections.map((c) => [c.name, c]));
  // Relations name their target by id (PocketBase also accepts the name).
  const resolve: RecordRefResolver = (idOrName) => {
    const target = byId.get(idOrName) ?? byName.get(idOrName);
    return target ? { ref: `#/components/schemas/${bases.get(target.id)}Record`, name: target.name } : undefined;
  };

  const schemas: Record<string, unknown> = fixedSchemas();
  let paths: Record<string, unknown> = fixedPaths();
  const tags: Array<{ name: string; description: string }> = [
    { name: 'Health', description: 'Liveness.' },
    { name: 'Collections', description: 'Schema management (superusers).' },
    { name: 'Batch', description: 'Transactional multi-record writes.' },
    { name: 'Changes', description: 'The change log (superusers).' },
    { name: 'Operations', description: 'Metrics and API description.' },
  ];
  for (const c of collections) {
    const base = bases.get(c.id)!;
    const s = recordSchemas(c, resolve);
    schemas[`${base}Record`] = s.record;
    schemas[`${base}Create`] = s.create;
    schemas[`${base}Update`] = s.update;
    schemas[`${base}ListResult`] = listResultSchema(schemaRef(`${base}Record`), true);
    if (c.type === 'auth') {
      schemas[`${base}AuthResponse`] = {
        type: 'object', required: ['token', 'record'],
        properties: {
          token: { type: 'string', description: 'JWT access token.' },
          refreshToken: { type: 'string', description: 'Opaque refresh token for `auth-refresh`; shown once, rotated on every use.' },
          record: schemaRef(`${base}Record`),
        },
      };
    }
    paths = { ...paths, ...recordPaths(c, base) };
    tags.push({ name: `Records: ${c.name}`, description: `Records of the \`${c.name}\` ${c.type === 'auth' ? 'auth ' : ''}collection.` });
  }

  const responses: Record<string, unknown> = {
    NotModified: { description: 'Not Modified: the `If-None-Match` ETag still matches.', headers: ETAG_HEADERS },
  };
  for (const [status, r] of Object.entries(ERROR_RESPONSES)) {
    const headers = status === '429' ? { 'Retry-After': ref('headers', 'RetryAfter') } : undefined;
    responses[r.name] = { description: r.description, ...(headers ? { headers } : {}), content: { 'application/problem+json': { schema: schemaRef('Problem') } } };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Basalt API',
      version: options.version,
      description: 'The REST API of this Basalt server, generated from its live schema. It follows PocketBase\'s HTTP API; '
        + 'Basalt additions (keyset `cursor`, `Idempotency-Key`, ETags, the change log) are additive.\n\n'
        + 'Authenticate by sending the token from an `auth-with-password` call in the `Authorization` header, bare or as `Bearer <token>`. '
        + 'Errors are `application/problem+json` with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: options.serverUrl ?? '/' }],
    security: AUTH_OPTIONAL,
    tags,
    paths,
    components: {
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'apiKey', in: 'header', name: 'Authorization',
          description: 'A JWT access token in the `Authorization` header, either bare (`Authorization: <token>`, as PocketBase sends it) '
            + 'or with the bearer scheme (`Authorization: Bearer <token>`).',
        },
      },
      schemas,
      parameters: PARAMETERS,
      headers: {
        ETag: { description: 'Entity tag of the representation; send it back in `If-None-Match`.', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
      },
      responses,
    },
  };
}
