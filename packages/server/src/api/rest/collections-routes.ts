/**
 * Collections API (superusers only): `/api/collections[/{idOrName}]`, PocketBase's shapes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorOf } from '../../audit/index.ts';
import { BasaltError } from '../../errors/index.ts';
import { intParam } from '../../records/index.ts';
import { queryString, requireSuperuser } from './request-context.ts';
import { respond } from './respond.ts';
import type { RestDeps } from './rest-deps.ts';
import { publicAuthOptions, type Collection } from '../../schema/index.ts';

/** A collection as the API answers it: OAuth client secrets are never sent back. */
function publicCollection(c: Collection): Collection {
  return c.oauth2 ? { ...c, ...publicAuthOptions({ ...c } as Parameters<typeof publicAuthOptions>[0]) } : c;
}

/** Register the collection routes. */
export function registerCollectionRoutes(app: FastifyInstance, deps: RestDeps): void {
  const { registry, auth, metrics } = deps;

  app.get('/api/collections', async (request, reply) => {
    await requireSuperuser(request, auth);
    const perPage = intParam(queryString(request, 'perPage'), 30, 1, 1000);
    const page = intParam(queryString(request, 'page'), 1, 1, 1_000_000);
    const filter = queryString(request, 'filter');
    let all = registry.list();
    // A small subset of the filter language, enough for the SDK's getFirstListItem(`name="x"`).
    if (filter && filter.trim()) {
      const m = /^\s*(name|id|type)\s*=\s*(["'])([^"']*)\2\s*$/.exec(filter);
      if (!m) throw new BasaltError('filter_invalid', { message: 'Collections can be filtered by name, id or type equality.' });
      all = all.filter((c) => c[m[1] as 'name' | 'id' | 'type'] === m[3]);
    }
    return respond(request, reply, metrics, { page, perPage, totalItems: all.length, totalPages: Math.ceil(all.length / perPage), items: all.slice((page - 1) * perPage, page * perPage).map(publicCollection) });
  });

  app.get<{ Params: { idOrName: string } }>('/api/collections/:idOrName', async (request, reply) => {
    await requireSuperuser(request, auth);
    return respond(request, reply, metrics, publicCollection(registry.get(request.params.idOrName)));
  });

  const audited = async <T extends { name: string }>(request: FastifyRequest, action: string, work: Promise<T>): Promise<T> => {
    const c = await work;
    await deps.audit.record({ action, outcome: 'success', actor: actorOf(request.principal ?? { kind: 'anonymous' }), target: c.name, ip: request.ip });
    return c;
  };

  app.post('/api/collections', async (request, reply) => {
    await requireSuperuser(request, auth);
    return respond(request, reply, metrics, publicCollection(await audited(request, 'collection.create', registry.create(request.body))));
  });

  app.patch<{ Params: { idOrName: string } }>('/api/collections/:idOrName', async (request, reply) => {
    await requireSuperuser(request, auth);
    return respond(request, reply, metrics, publicCollection(await audited(request, 'collection.update', registry.update(request.params.idOrName, request.body))));
  });

  app.delete<{ Params: { idOrName: string } }>('/api/collections/:idOrName', async (request, reply) => {
    await requireSuperuser(request, auth);
    const name = registry.get(request.params.idOrName).name;
    await audited(request, 'collection.delete', registry.delete(request.params.idOrName).then(() => ({ name })));
    return respond(request, reply, metrics, null, 204);
  });
}
