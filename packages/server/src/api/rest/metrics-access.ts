/**
 * Who may read the Prometheus metrics. They tell an attacker the routes, error rates and load of the
 * server, so they are off the public port by default: either a bearer token unlocks `GET /metrics` on
 * the public port, or a separate listener on an internal address serves only `/metrics` (with the
 * token too, when one is set). See docs/operations.md.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BasaltError } from '../../errors/index.ts';
import type { Metrics } from '../../telemetry/index.ts';
import type { MetricsConfig, TimeoutConfig } from '../../app/config.ts';
import { problemBody } from './problem.ts';
import { serverTimeouts } from './server-timeouts.ts';

/** Sent with a 401 so a scraper knows which scheme is wanted (RFC 6750). */
export const METRICS_CHALLENGE = 'Bearer realm="metrics"';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * True when `authorization` is `Bearer <token>`. Compared in constant time over digests, so neither
 * the token's bytes nor its length leak through timing. An empty `token` lets everyone in.
 */
export function metricsAuthorized(authorization: string | undefined, token: string): boolean {
  if (!token) return true;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://host:port` it listens on. */
  url: string;
  close(): Promise<void>;
}

/**
 * Start the separate metrics listener: `GET /metrics` (token-checked when `config.token` is set),
 * 404 problem+json for anything else. Plain HTTP: it belongs on an internal address.
 */
export async function startMetricsListener(metrics: Metrics, config: MetricsConfig & { http: { host: string; port: number } }, timeouts: TimeoutConfig): Promise<MetricsListener> {
  const send = (res: ServerResponse, e: BasaltError) => {
    res.writeHead(e.status, { 'content-type': 'application/problem+json', ...(e.status === 401 ? { 'www-authenticate': METRICS_CHALLENGE } : {}) });
    res.end(JSON.stringify(problemBody(e)));
  };
  const server: Server = createServer(serverTimeouts(timeouts), (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return send(res, new BasaltError('not_found'));
    if (!metricsAuthorized(req.headers.authorization, config.token)) return send(res, new BasaltError('metrics_unauthorized'));
    metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => send(res, new BasaltError('internal')),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
