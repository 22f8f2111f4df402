/** Request metrics, fed by the HTTP surface when it answers. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from './metrics-registry.ts';

/** Route label of requests that matched no route (404s from the not-found handler). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Observe one answered request: count it and record its latency, labelled with the route *pattern*
 * (`request.routeOptions.url`, e.g. `/api/collections/:collection/records/:id`) so label cardinality
 * stays bounded; requests that matched no route are labelled `unmatched`.
 *
 * Called by the surface right before it sends (not from an `onResponse` hook: measured with
 * `npm run bench`, a global onResponse hook cost about a quarter of view-by-id throughput). The latency
 * is Fastify's `reply.elapsedTime`, from the moment the request entered Fastify until the answer is
 * handed to the socket.
 *
 * @example
 * observeReply(metrics, request, reply.code(200), '/api/collections/:collection/records/:id');
 */
export function observeReply(metrics: Metrics, request: FastifyRequest, reply: FastifyReply, route?: string): void {
  // `request.routeOptions` builds a fresh object on every access; callers on the hot path pass the
  // route pattern they already know.
  metrics.observeRequest(request.method, route ?? request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1e3);
}
