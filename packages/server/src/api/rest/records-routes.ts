/**
 * PocketBase-compatible record routes: `/api/collections/{collection}/records[/{id}]`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ListParams, OutputParams } from '../../records/index.ts';
import { callContext, queryString } from './request-context.ts';
import { respond, respondJson } from './respond.ts';
import { readBodyWithKind } from './request-body.ts';
import { clientKey } from './rate-limit.ts';
import { countOldPasswordAttempt, isWrongOldPassword } from './password-attempts.ts';
import type { RestDeps } from './rest-deps.ts';

type Params = { collection: string; id?: string };

function listParams(request: FastifyRequest): ListParams {
  const q = (name: string) => queryString(request, name);
  return {
    filter: q('filter'), sort: q('sort'), page: q('page'), perPage: q('perPage'), skipTotal: q('skipTotal'),
    fields: q('fields'), expand: q('expand'), cursor: q('cursor'),
  };
}

function outputParams(request: FastifyRequest): OutputParams {
  return { expand: queryString(request, 'expand'), fields: queryString(request, 'fields') };
}

/** Register the record routes. */
export function registerRecordRoutes(app: FastifyInstance, deps: RestDeps): void {
  const { records, auth, metrics } = deps;

  app.get<{ Params: Params }>('/api/collections/:collection/records', async (request, reply) => {
    const ctx = await callContext(request, auth);
    return respond(request, reply, metrics, await records.list(ctx, request.params.collection, listParams(request)));
  });

  app.get<{ Params: Params & { id: string } }>('/api/collections/:collection/records/:id', async (request, reply) => {
    const ctx = await callContext(request, auth);
    return respondJson(request, reply, metrics, await records.viewJson(ctx, request.params.collection, request.params.id, outputParams(request)));
  });

  /** The write body: JSON as sent, or a form's fields cast to the field types. */
  const writeBody = (request: FastifyRequest<{ Params: Params }>): unknown => {
    const { body, form } = readBodyWithKind(request);
    return form ? records.castForm(request.params.collection, body) : (body ?? {});
  };

  app.post<{ Params: Params }>('/api/collections/:collection/records', async (request, reply) => {
    const body = writeBody(request);
    const ctx = await callContext(request, auth, body);
    // Sign-ups (creates in auth collections by anyone but superusers) are rate limited per client.
    if (deps.registry.find(request.params.collection)?.type === 'auth' && ctx.principal.kind !== 'superuser') {
      await deps.limiter!.check(reply, [[{ name: 'signup-ip', limit: deps.rateLimits.signUpPerIp, windowSeconds: 3600 }, clientKey(request)]]);
    }
    return respond(request, reply, metrics, await records.create(ctx, request.params.collection, body, outputParams(request)));
  });

  app.patch<{ Params: Params & { id: string } }>('/api/collections/:collection/records/:id', async (request, reply) => {
    const body = writeBody(request);
    const ctx = await callContext(request, auth, body);
    // `oldPassword` is a password check: it spends the account's sign-in budget (password-attempts.ts).
    const attempt = await countOldPasswordAttempt(deps, reply, request, ctx.principal, request.params.collection, request.params.id, body);
    try {
      return respond(request, reply, metrics, await records.update(ctx, request.params.collection, request.params.id, body, outputParams(request)));
    } catch (e) {
      if (attempt && isWrongOldPassword(e)) await attempt.failed();
      throw e;
    }
  });

  app.delete<{ Params: Params & { id: string } }>('/api/collections/:collection/records/:id', async (request, reply) => {
    const ctx = await callContext(request, auth);
    await records.delete(ctx, request.params.collection, request.params.id);
    return respond(request, reply, metrics, null, 204);
  });
}
