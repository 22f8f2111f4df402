/**
 * API keys (superusers only): create (the key is answered once), list, revoke.
 * `POST /api/admin/api-keys {name, roles, expires?}`, `GET /api/admin/api-keys`,
 * `DELETE /api/admin/api-keys/{id}`.
 */
import type { FastifyInstance } from 'fastify';
import { BasaltError } from '../../errors/index.ts';
import { actorOf } from '../../audit/index.ts';
import { requireSuperuser } from './request-context.ts';
import { respond } from './respond.ts';
import type { RestDeps } from './rest-deps.ts';

/** Register the API key routes. */
export function registerApiKeyRoutes(app: FastifyInstance, deps: RestDeps): void {
  const keys = deps.auth.apiKeys;

  app.get('/api/admin/api-keys', async (request, reply) => {
    await requireSuperuser(request, deps.auth);
    return respond(request, reply, deps.metrics, { items: await keys.list() });
  });

  app.post('/api/admin/api-keys', async (request, reply) => {
    const su = await requireSuperuser(request, deps.auth);
    const created = await keys.create(request.body, actorOf(su));
    await deps.audit.record({ action: 'apikey.create', outcome: 'success', actor: actorOf(su), target: `apikey:${created.id}`, ip: request.ip, details: { name: created.name, roles: created.roles, expires: created.expires } });
    // The only time the key is shown: never cache or store this answer.
    reply.header('cache-control', 'no-store');
    return respond(request, reply, deps.metrics, created, 201);
  });

  app.delete<{ Params: { id: string } }>('/api/admin/api-keys/:id', async (request, reply) => {
    const su = await requireSuperuser(request, deps.auth);
    if (!(await keys.revoke(request.params.id))) throw new BasaltError('not_found', { message: 'No such API key.' });
    await deps.audit.record({ action: 'apikey.revoke', outcome: 'success', actor: actorOf(su), target: `apikey:${request.params.id}`, ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });
}
