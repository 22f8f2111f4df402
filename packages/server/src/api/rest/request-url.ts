/**
 * URL limits, applied to every request before routing: a NUL character (`%00`) anywhere in the path or
 * the query string is a 400 `url_invalid`. PostgreSQL text cannot hold U+0000, and a query parameter
 * travels into filters, cursors, sign-in lookups and rules; refusing it here means no route, present or
 * future, can pass one on.
 *
 * Fastify's `rewriteUrl` runs for each request at the cost of one string search and no hook: a request
 * with a NUL is routed to {@link INVALID_URL_PATH}, whose handler answers the problem. The fast read
 * path never sees such requests (it takes no query strings and only `[a-z0-9]` ids).
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { BasaltError } from '../../errors/index.ts';

/** Where requests with a NUL in the URL are routed (an internal path; calling it directly gets the same 400). */
export const INVALID_URL_PATH = '/api/_invalid-url';

/** Fastify `rewriteUrl`: URLs with a percent-encoded NUL go to {@link INVALID_URL_PATH}, all others unchanged. */
export function rewriteInvalidUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  // A raw NUL never gets past Node's HTTP parser; its percent-encoded form does.
  return url.includes('%00') ? INVALID_URL_PATH : url;
}

/** Register the route that answers requests {@link rewriteInvalidUrl} diverted. */
export function registerInvalidUrlRoute(app: FastifyInstance): void {
  app.all(INVALID_URL_PATH, async () => {
    throw new BasaltError('url_invalid');
  });
}
