/**
 * How every route answers: JSON serialised once, `X-Request-Id`, request metrics, and conditional GETs
 * (a weak `ETag` over the body; a matching `If-None-Match` gets `304 Not Modified`). Answers depend on
 * the caller's identity, hence `Vary: Authorization` and `Cache-Control: private, no-cache`.
 *
 * This is a function the handlers call rather than `onSend`/`onResponse` hooks: measured with
 * `npm run bench`, each global hook cost about a quarter of view-by-id throughput.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hash } from 'node:crypto';
import { observeReply, UNMATCHED_ROUTE, type Metrics } from '../../telemetry/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The matched route pattern, for metrics (set by {@link labelRoutes}). */
    routeLabel?: string;
  }
  interface FastifyInstance {
    /** Which browser origins may call the API (see {@link corsPolicy}). */
    basaltCors: CorsPolicy;
    /** Served over HTTPS: send Strict-Transport-Security. */
    basaltHsts: boolean;
  }
}

/** Which origins may read answers from a browser: any (`*`, no credentials) or an explicit list. */
export interface CorsPolicy {
  any: boolean;
  origins: ReadonlySet<string>;
}

/** Build the CORS policy from configuration (`*`, or origins like `https://app.example.com`). */
export function corsPolicy(origins: readonly string[]): CorsPolicy {
  return { any: origins.includes('*'), origins: new Set(origins.filter((o) => o !== '*')) };
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;
const EXPOSED = 'ETag, X-Request-Id, Idempotent-Replayed, RateLimit, RateLimit-Policy, Retry-After';
const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = 'max-age=31536000; includeSubDomains';
/** JSON answers depend on the caller; intermediaries must revalidate. */
const JSON_CACHE_CONTROL = 'private, no-cache';
const JSON_TYPE = 'application/json; charset=utf-8';

/** What decides the headers of a JSON read answer (see {@link readAnswerHeaders}). */
export interface ReadAnswerFacts {
  requestId: string;
  /** The request's `Origin` header, if any. */
  origin: string | undefined;
  cors: CorsPolicy;
  hsts: boolean;
  etag: string;
  /** The body's length in bytes; absent for a 304. */
  contentLength?: number;
}

/**
 * The headers of a `200` (or, without `contentLength`, `304`) JSON answer to a read, as a flat
 * `[name, value, …]` list: the same decisions as {@link baseHeaders} + {@link respondJson}, for the
 * fast read path (fast-read.ts), which answers without Fastify. A test compares both paths.
 */
export function readAnswerHeaders(f: ReadAnswerFacts): string[] {
  const h: string[] = [
    'x-content-type-options', 'nosniff', 'x-frame-options', 'DENY', 'referrer-policy', 'no-referrer',
    'x-request-id', f.requestId, 'content-security-policy', DEFAULT_CSP,
  ];
  if (f.hsts) h.push('strict-transport-security', HSTS);
  h.push('vary', f.cors.any ? 'Authorization' : 'Origin, Authorization');
  if (f.origin !== undefined && (f.cors.any || f.cors.origins.has(f.origin))) {
    h.push('access-control-allow-origin', f.cors.any ? '*' : f.origin, 'access-control-expose-headers', EXPOSED);
  }
  h.push('etag', f.etag, 'cache-control', JSON_CACHE_CONTROL);
  if (f.contentLength !== undefined) h.push('content-type', JSON_TYPE, 'content-length', String(f.contentLength));
  return h;
}

/**
 * Headers every answer carries: security headers (an API answer is never framed, sniffed or sent as
 * a referrer), the request id, and CORS for allowed origins. Basalt authenticates with the
 * `Authorization` header, never cookies, so CORS never allows credentials and `*` is safe.
 */
export function baseHeaders(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.headers(SECURITY_HEADERS);
  reply.header('x-request-id', request.id);
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DEFAULT_CSP);
  if (request.server.basaltHsts) reply.header('strict-transport-security', HSTS);
  const cors = request.server.basaltCors;
  // With an allow-list the answer differs by origin, whether or not this request sent one.
  if (!cors.any) reply.header('vary', 'Origin, Authorization');
  const origin = rawHeader(request, 'origin');
  if (origin !== undefined) {
    if (cors.any) reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', EXPOSED);
    else if (cors.origins.has(origin)) reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED);
  }
  return reply;
}

/**
 * Record each route's pattern on its requests (wrapping the handler once, at registration), so that
 * answering never needs `request.routeOptions`, which is rebuilt on every access.
 */
export function labelRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const label = route.url;
    const handler = route.handler;
    route.handler = function labelled(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      request.routeLabel = label;
      return handler.call(this, request, reply);
    } as typeof route.handler;
  });
}

/**
 * A request header read from `rawHeaders`: Node builds `req.headers` lazily, and the hot path need not
 * pay for that object to read one header.
 */
export function rawHeader(request: FastifyRequest, lowerName: string): string | undefined {
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === lowerName.length && k.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

function observe(metrics: Metrics, request: FastifyRequest, reply: FastifyReply): void {
  observeReply(metrics, request, reply, request.routeLabel ?? UNMATCHED_ROUTE);
}

/** The weak ETag of a JSON body. */
export function etagOf(payload: string): string {
  // One-shot hashing: no Hash object per request.
  return `W/"${hash('sha1', payload, 'base64url')}"`;
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison, `*` matches all). */
export function ifNoneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.slice(2);
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** Answer `value` as JSON with `status` (204 sends no body). */
export function respond(request: FastifyRequest, reply: FastifyReply, metrics: Metrics, value: unknown, status = 200): FastifyReply {
  if (status === 204) {
    baseHeaders(request, reply.code(204));
    observe(metrics, request, reply);
    return reply.send();
  }
  return respondJson(request, reply, metrics, JSON.stringify(value), status);
}

/** Answer JSON text that is already serialised. */
export function respondJson(request: FastifyRequest, reply: FastifyReply, metrics: Metrics, body: string, status = 200): FastifyReply {
  baseHeaders(request, reply.code(status));
  if (status === 200 && (request.method === 'GET' || request.method === 'HEAD')) {
    const etag = etagOf(body);
    reply.header('etag', etag);
    if (!reply.hasHeader('vary')) reply.header('vary', 'Authorization');
    // A route may have chosen its own caching (public keys, docs assets); the default is private.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', JSON_CACHE_CONTROL);
    const inm = rawHeader(request, 'if-none-match');
    if (typeof inm === 'string' && ifNoneMatch(inm, etag)) {
      reply.code(304);
      observe(metrics, request, reply);
      return reply.send();
    }
  }
  observe(metrics, request, reply);
  return reply.type(JSON_TYPE).send(body);
}

/** Answer a raw body (HTML, JavaScript, Prometheus text) with metrics and `X-Request-Id`. */
export function respondRaw(request: FastifyRequest, reply: FastifyReply, metrics: Metrics, contentType: string, body: string | Buffer): FastifyReply {
  baseHeaders(request, reply).type(contentType);
  observe(metrics, request, reply);
  return reply.send(body);
}
