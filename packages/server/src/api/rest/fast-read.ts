/**
 * The fast read path: `GET /api/collections/{collection}/records/{id}` without a query string is
 * answered straight from Node's request, before Fastify builds its request and reply objects, routes
 * and runs its reply pipeline. Measured with `npm run bench` (docs/decisions/006), that pipeline was
 * about a fifth of the CPU time of a view-by-id.
 *
 * It is the same answer, not a second implementation of the API: the principal comes from the auth
 * service, the record from the records service (the view rule applies), the headers from
 * {@link readAnswerHeaders}, which encodes respond()'s decisions; a test compares both paths header by
 * header. Anything else — other methods and paths, query strings, any error (401, 404, …) — goes to
 * Fastify unchanged, which answers it (for errors it repeats the lookup, so problem+json stays in one place).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RestDeps } from './rest-deps.ts';
import { etagOf, ifNoneMatch, readAnswerHeaders, type CorsPolicy } from './respond.ts';
import { LazyRequestContext } from './request-context.ts';
import { ANONYMOUS, type Principal } from '../../records/index.ts';

/** The route label the fast path reports in metrics (the Fastify route's pattern). */
export const VIEW_ROUTE = '/api/collections/:collection/records/:id';
const VIEW_PATH = /^\/api\/collections\/([A-Za-z0-9_]{1,64})\/records\/([a-z0-9]{15})$/;

/** Answers a request, or returns false to leave it to Fastify. `served` counts the answers it gave. */
export type FastRead = ((req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void) => boolean) & { served: number };

/** Build the fast read path over the REST dependencies. */
export function createFastRead(deps: RestDeps, opts: { requestId: (given: string | undefined) => string; cors: CorsPolicy; hsts: boolean; closing: () => boolean }): FastRead {
  const { records, auth, metrics } = deps;
  const fastRead: FastRead = Object.assign((req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void) => {
    if (req.method !== 'GET' || opts.closing()) return false;
    const m = VIEW_PATH.exec(req.url ?? '');
    if (!m) return false;
    const start = performance.now();
    let authorization: string | undefined;
    let origin: string | undefined;
    let inm: string | undefined;
    let given: string | undefined;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      // Compare lengths first: most headers are none of these four. The first value counts, as in
      // respond(); for X-Request-Id the last, as Fastify's request ids take it.
      if (name.length === 6) {
        if (origin === undefined && name.toLowerCase() === 'origin') origin = raw[i + 1];
      } else if (name.length === 12) {
        if (name.toLowerCase() === 'x-request-id') given = raw[i + 1];
      } else if (name.length === 13) {
        const lower = name.toLowerCase();
        if (lower === 'authorization') authorization ??= raw[i + 1];
        else if (lower === 'if-none-match') inm ??= raw[i + 1];
      }
    }
    const answer = (principal: Principal) => {
      const ctx = { principal, request: new LazyRequestContext({ method: 'GET', query: {}, headers: req.headers }, principal, undefined) };
      return records.viewJson(ctx, m[1], m[2]);
    };
    const work = authorization === undefined ? answer(ANONYMOUS) : auth.principalFromHeader(authorization).then(answer);
    work
      .then((body) => {
        const etag = etagOf(body);
        const facts = { requestId: opts.requestId(given), origin, cors: opts.cors, hsts: opts.hsts, etag };
        if (inm !== undefined && ifNoneMatch(inm, etag)) {
          res.writeHead(304, readAnswerHeaders(facts));
          res.end();
        } else {
          res.writeHead(200, readAnswerHeaders({ ...facts, contentLength: Buffer.byteLength(body) }));
          res.end(body);
        }
        metrics.observeRequest('GET', VIEW_ROUTE, res.statusCode, (performance.now() - start) / 1e3);
        fastRead.served++;
      })
      .catch(() => {
        // Errors are Fastify's to answer (problem+json, logging); it runs the request from the start.
        // Should anything fail after the answer started, the connection is cut rather than left hanging.
        if (res.headersSent) return void res.destroy();
        try {
          fallback(req, res);
        } catch {
          res.destroy();
        }
      });
    return true;
  }, { served: 0 });
  return fastRead;
}
