/**
 * Prometheus metrics (prom-client) in a registry of their own, so several apps can live in one
 * process (tests) without clashing in prom-client's global registry.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Database operations that are timed. */
export type DbOperation = 'all' | 'get' | 'run' | 'transaction';

/** Basalt's metrics. */
export interface Metrics {
  /** The registry; other modules may register their own series on it. */
  readonly registry: Registry;
  /** Count and time one HTTP request. `route` must be a route pattern (`/api/collections/:name/records`), never a raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Time one database call. */
  observeDb(op: DbOperation, dialect: string, seconds: number): void;
  /** The exposition for `GET /metrics`. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Series names, for docs and dashboards. */
export const METRIC_NAMES = {
  httpRequests: 'basalt_http_requests_total',
  httpDuration: 'basalt_http_request_duration_seconds',
  dbDuration: 'basalt_db_query_duration_seconds',
} as const;

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** `2xx`, `4xx`, …: bounded, and what alerts are written against. */
function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

/**
 * Create the metrics: HTTP request counter and latency histogram (labels `method`, `route`,
 * `status_class`), database call latency histogram (labels `operation`, `dialect`), and prom-client's
 * process and Node.js default metrics.
 *
 * @example
 * const metrics = createMetrics();
 * app.get('/metrics', async (_req, reply) => { const m = await metrics.render(); reply.type(m.contentType).send(m.body); });
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpLabels = ['method', 'route', 'status_class'] as const;
  const requests = new Counter({
    name: METRIC_NAMES.httpRequests, help: 'HTTP requests answered, by method, route pattern and status class.',
    labelNames: httpLabels, registers: [registry],
  });
  const duration = new Histogram({
    name: METRIC_NAMES.httpDuration, help: 'HTTP request duration in seconds, by method, route pattern and status class.',
    labelNames: httpLabels, buckets: HTTP_BUCKETS, registers: [registry],
  });
  const db = new Histogram({
    name: METRIC_NAMES.dbDuration, help: 'Database call duration in seconds, by operation (all, get, run, transaction) and dialect.',
    labelNames: ['operation', 'dialect'] as const, buckets: DB_BUCKETS, registers: [registry],
  });
  // route → method → status → label children: lookups without building a key string per request.
  // Bounded: routes are patterns, methods are folded, statuses are HTTP codes.
  const httpChildren = new Map<string, Map<string, Map<number, { count: { inc(): void }; time: { observe(v: number): void } }>>>();
  const dbChildren = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      // Label children are cached: prom-client hashes a label object on every call otherwise, which
      // showed up in the view-by-id profile. Keys are bounded (methods × route patterns × statuses).
      let byStatus = httpChildren.get(route)?.get(method);
      let child = byStatus?.get(status);
      if (!child) {
        const m = method.toUpperCase();
        // Unknown methods would let a client mint label values; fold them into one.
        const labels = { method: METHODS.has(m) ? m : 'OTHER', route, status_class: statusClass(status) };
        child = { count: requests.labels(labels), time: duration.labels(labels) };
        if (!byStatus) {
          let byMethod = httpChildren.get(route);
          if (!byMethod) httpChildren.set(route, (byMethod = new Map()));
          byMethod.set(method, (byStatus = new Map()));
        }
        byStatus.set(status, child);
      }
      child.count.inc();
      child.time.observe(seconds);
    },
    observeDb(op, dialect, seconds) {
      const key = `${op}\u0000${dialect}`;
      let child = dbChildren.get(key);
      if (!child) dbChildren.set(key, (child = db.labels({ operation: op, dialect })));
      child.observe(seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
