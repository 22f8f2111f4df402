/**
 * Conditional GETs: every successful JSON GET answer carries a weak `ETag` (a hash of the body), and a
 * matching `If-None-Match` gets `304 Not Modified` without a body. Answers depend on the caller's
 * identity, hence `Vary: Authorization` and `Cache-Control: private, no-cache`.
 */
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';

function etagOf(payload: string | Buffer): string {
  return `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
}

function matches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** Register the ETag hook for `/api/` GET routes. */
export function registerHttpCaching(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || reply.statusCode !== 200 || !request.url.startsWith('/api/')) return payload;
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const etag = etagOf(payload);
    reply.header('etag', etag);
    reply.header('vary', 'Authorization');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'private, no-cache');
    const inm = request.headers['if-none-match'];
    if (typeof inm === 'string' && matches(inm, etag)) {
      reply.code(304);
      reply.removeHeader('content-type');
      reply.removeHeader('content-length');
      return '';
    }
    return payload;
  });
}
