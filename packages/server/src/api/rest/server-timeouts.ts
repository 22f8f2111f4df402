/**
 * How long Basalt's listeners (the public HTTP/HTTPS port and the metrics listener) wait for slow
 * clients. Fastify applies its own timeouts only to servers it creates; Basalt creates its server
 * (`serverFactory` in app/app.ts), so these are the whole story.
 */
import type { TimeoutConfig } from '../../app/config.ts';

/** Options for `http.createServer` / `https.createServer`. */
export interface ServerTimeoutOptions {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
}

/**
 * Node's connection-level timeouts for a listener: a request line and headers must have arrived
 * within `headersMs` (slowloris), the whole request within `requestMs`, and an idle keep-alive
 * connection is closed after `keepAliveMs`. Node checks expiries every `connectionsCheckingInterval`;
 * the headers limit given to Node is shortened by that interval so that a slow client is gone within
 * `headersMs`, not up to one interval later.
 */
export function serverTimeouts(t: TimeoutConfig): ServerTimeoutOptions {
  const connectionsCheckingInterval = Math.min(1000, Math.max(100, Math.floor(t.headersMs / 10)));
  return { headersTimeout: t.headersMs - connectionsCheckingInterval, requestTimeout: t.requestMs, keepAliveTimeout: t.keepAliveMs, connectionsCheckingInterval };
}
