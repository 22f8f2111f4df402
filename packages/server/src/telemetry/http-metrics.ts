/** Fastify hook that feeds every answered request into {@link Metrics}. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics-registry.ts';

/** Route label of requests that matched no route (404s from the not-found handler). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Observe every request: count it and record its latency, labelled with the route *pattern*
 * (`request.routeOptions.url`, e.g. `/api/collections/:name/records/:id`) so label cardinality stays
 * bounded; requests that matched no route are labelled `unmatched`. Register it on the root instance
 * so it sees every route, including those of encapsulated plugins.
 *
 * The latency is Fastify's own `reply.elapsedTime` (high-resolution, measured from the moment the
 * request entered Fastify, i.e. the `onRequest` stage), so no per-request state is kept here.
 *
 * @example
 * registerHttpTelemetry(app, metrics);
 */
export function registerHttpTelemetry(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    // The not-found handler has no route pattern: never fall back to the raw URL.
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1e3);
    done();
  });
}
