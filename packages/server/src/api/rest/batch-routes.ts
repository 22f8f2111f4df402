/**
 * `POST /api/batch`: several record writes in one transaction (PocketBase's batch API). Either every
 * request succeeds and all commit, or the first failure rolls everything back and is reported with
 * its index.
 */
import type { FastifyInstance } from 'fastify';
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import { FORBIDDEN_KEYS } from '../../tools/index.ts';
import { problemBody } from './problem.ts';
import { callContext, principalOf } from './request-context.ts';
import { readBody } from './request-body.ts';
import { respond } from './respond.ts';
import { clientKey, type Hit } from './rate-limit.ts';
import { countOldPasswordAttempt, isWrongOldPassword, type PasswordAttempt } from './password-attempts.ts';
import type { RestDeps } from './rest-deps.ts';

interface BatchItem {
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  collection: string;
  id?: string;
  body: Record<string, unknown>;
  expand?: string;
  fields?: string;
}

const RECORDS_PATH = /^\/api\/collections\/([^/]+)\/records(?:\/([^/]+))?\/?$/;

function parseItem(raw: unknown, i: number): BatchItem {
  const fail = (message: string) => new BasaltError('batch_invalid', { message: `requests.${i}: ${message}`, data: { requests: { [i]: { code: 'batch_request_invalid', message } } } });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('must be an object');
  const r = raw as Record<string, unknown>;
  const method = typeof r.method === 'string' ? r.method.toUpperCase() : '';
  if (!['POST', 'PATCH', 'PUT', 'DELETE'].includes(method)) throw fail('method must be POST, PUT, PATCH or DELETE');
  if (typeof r.url !== 'string' || r.url.length > 2048) throw fail('url must be a string');
  let url: URL;
  try {
    url = new URL(r.url, 'http://batch.local');
  } catch {
    throw fail('invalid url');
  }
  const m = RECORDS_PATH.exec(url.pathname);
  if (!m) throw fail('only record routes (/api/collections/{collection}/records[/{id}]) can be batched');
  const collection = decodeURIComponent(m[1]);
  const id = m[2] ? decodeURIComponent(m[2]) : undefined;
  if ((method === 'PATCH' || method === 'DELETE') && !id) throw fail(`${method} needs a record id in the url`);
  if ((method === 'POST' || method === 'PUT') && id) throw fail(`${method} takes the collection url without an id`);
  const body = r.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail('body must be an object');
  if (Object.keys(body).some((k) => FORBIDDEN_KEYS.has(k))) throw fail('body has a forbidden key');
  return {
    method: method as BatchItem['method'], collection, id, body: body as Record<string, unknown>,
    expand: url.searchParams.get('expand') ?? undefined, fields: url.searchParams.get('fields') ?? undefined,
  };
}

/** Register `POST /api/batch`. */
export function registerBatchRoutes(app: FastifyInstance, deps: RestDeps): void {
  const { records, auth, maxBatchRequests } = deps;
  app.post('/api/batch', async (request, reply) => {
    const body = readBody(request) as { requests?: unknown } | undefined;
    if (!body || typeof body !== 'object' || !Array.isArray(body.requests)) throw new BasaltError('batch_invalid', { message: 'The body must be {"requests": [...]}.' });
    if (body.requests.length === 0) throw new BasaltError('batch_invalid', { message: 'The batch has no requests.' });
    if (body.requests.length > maxBatchRequests) throw new BasaltError('batch_invalid', { message: `A batch holds at most ${maxBatchRequests} requests.` });
    const items = body.requests.map(parseItem);
    // Resolve the caller before the transaction opens: resolving reads the database, and on PostgreSQL a
    // second connection taken while holding one can starve the pool under load.
    const principal = await principalOf(request, auth);
    // Sign-ups inside a batch count against the same per-client limit as single ones.
    if (principal.kind !== 'superuser') {
      const signUps = items.filter((it) => (it.method === 'POST' || it.method === 'PUT') && deps.registry.find(it.collection)?.type === 'auth').length;
      for (let i = 0; i < signUps; i++) {
        await deps.limiter!.check(reply, [[{ name: 'signup-ip', limit: deps.rateLimits.signUpPerIp, windowSeconds: 3600 }, clientKey(request)]]);
      }
    }
    // Each `oldPassword` in the batch is a password check on its account (password-attempts.ts).
    const attempts: PasswordAttempt[] = [];
    let counted: Hit[] = [];
    for (const it of items) {
      if (it.method !== 'PATCH' && it.method !== 'PUT') continue;
      const id = it.id ?? (typeof it.body.id === 'string' ? it.body.id : '');
      const attempt = await countOldPasswordAttempt(deps, reply, request, principal, it.collection, id, it.body, counted);
      if (attempt) {
        attempts.push(attempt);
        counted = attempt.hits;
      }
    }
    let failedAt = -1;
    try {
      const results = await records.transaction(async (tx) => {
        const results: { status: number; body: unknown }[] = [];
        for (let i = 0; i < items.length; i++) {
          failedAt = i;
          const it = items[i];
          const ctx = await callContext(request, auth, it.body);
          const out = { expand: it.expand, fields: it.fields };
          if (it.method === 'POST') results.push({ status: 200, body: await records.create(ctx, it.collection, it.body, out, tx) });
          else if (it.method === 'PATCH') results.push({ status: 200, body: await records.update(ctx, it.collection, it.id!, it.body, out, tx) });
          else if (it.method === 'DELETE') {
            await records.delete(ctx, it.collection, it.id!, tx);
            results.push({ status: 204, body: null });
          } else {
            // PUT = upsert: update when the body's id exists, create otherwise.
            const id = typeof it.body.id === 'string' ? it.body.id : undefined;
            const exists = id ? await tx.get(`SELECT 1 AS x FROM ${deps.db.dialect.quoteIdent(deps.registry.get(it.collection).name)} WHERE id = ?`, [id]) : undefined;
            results.push({ status: 200, body: exists ? await records.update(ctx, it.collection, id!, it.body, out, tx) : await records.create(ctx, it.collection, it.body, out, tx) });
          }
        }
        return results;
      });
      return respond(request, reply, deps.metrics, results);
    } catch (e) {
      if (attempts.length && isWrongOldPassword(e)) await Promise.all(attempts.map((a) => a.failed()));
      if (!isBasaltError(e) || e.status >= 500) throw e;
      throw new BasaltError('batch_failed', {
        cause: e,
        data: { requests: { [failedAt]: { code: 'batch_request_failed', message: 'Batch request failed.', response: problemBody(e) } } },
      });
    }
  });
}
