/**
 * Health, change log, OpenAPI document and docs page, Prometheus metrics (behind their token).
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { readChanges, lastChangeSeq } from '../../db/index.ts';
import { buildOpenApiDocument, docsAssetRoutes, docsPageHtml, DOCS_CONTENT_SECURITY_POLICY, type OpenApiDocument } from '../openapi/index.ts';
import { intParam } from '../../records/index.ts';
import { BasaltError } from '../../errors/index.ts';
import { queryString, requireSuperuser } from './request-context.ts';
import { rawHeader, respond, respondRaw } from './respond.ts';
import { metricsAuthorized, METRICS_CHALLENGE } from './metrics-access.ts';
import type { RestDeps } from './rest-deps.ts';

/** Register system routes. */
export function registerSystemRoutes(app: FastifyInstance, deps: RestDeps): void {
  app.get('/api/health', async (request, reply) => respond(request, reply, deps.metrics, { code: 200, message: 'API is healthy.', data: {} }));

  // Public keys that verify Basalt's access tokens (RFC 7517), for other services and gateways.
  app.get('/.well-known/jwks.json', async (request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return respond(request, reply, deps.metrics, deps.tokens.jwks());
  });

  app.get('/api/admin/audit', async (request, reply) => {
    await requireSuperuser(request, deps.auth);
    const after = intParam(queryString(request, 'after'), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(queryString(request, 'limit'), 100, 1, 1000);
    const action = queryString(request, 'action');
    if (action !== undefined && !/^[a-z_.]{1,64}$/.test(action)) throw new BasaltError('bad_request', { message: 'action is a name like auth.signin, or a prefix like auth.' });
    return respond(request, reply, deps.metrics, { items: await deps.audit.list(after, limit, action) });
  });

  app.get('/api/admin/changes', async (request, reply) => {
    await requireSuperuser(request, deps.auth);
    const after = intParam(queryString(request, 'after'), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(queryString(request, 'limit'), 100, 1, 1000);
    const items = await readChanges(deps.db, after, limit);
    return respond(request, reply, deps.metrics, { items, lastSeq: await lastChangeSeq(deps.db) });
  });

  // The document is rebuilt only when the schema changed (compile once, serve many).
  let cached: { version: number; doc: OpenApiDocument } | undefined;
  app.get('/api/openapi.json', async (request, reply) => {
    if (!cached || cached.version !== deps.registry.version) {
      cached = { version: deps.registry.version, doc: buildOpenApiDocument(deps.registry.list(), { serverUrl: deps.publicUrl, version: deps.version }) };
    }
    return respond(request, reply, deps.metrics, cached.doc);
  });

  const docsHtml = docsPageHtml('/api/openapi.json');
  app.get('/api/docs', async (request, reply) => {
    return respondRaw(request, reply.header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY), deps.metrics, 'text/html; charset=utf-8', docsHtml);
  });
  for (const asset of docsAssetRoutes()) {
    const body = readFileSync(asset.file);
    app.get(asset.path, async (request, reply) => respondRaw(request, reply.header('cache-control', 'public, max-age=86400'), deps.metrics, asset.contentType, body));
  }

  // Metrics reveal routes, error rates and load: on the public port only behind their token (else the
  // route does not exist here, answering like any unknown path); or on a listener of their own.
  const metricsToken = deps.metricsToken;
  if (metricsToken) {
    app.get('/metrics', async (request, reply) => {
      if (!metricsAuthorized(rawHeader(request, 'authorization'), metricsToken)) {
        reply.header('www-authenticate', METRICS_CHALLENGE);
        throw new BasaltError('metrics_unauthorized');
      }
      const { contentType, body } = await deps.metrics.render();
      return respondRaw(request, reply.header('cache-control', 'no-store'), deps.metrics, contentType, body);
    });
  }
}
