/**
 * Request ids: a client's valid `X-Request-Id` is kept (so a trace crosses services); otherwise a
 * random per-process prefix and a counter — unique, and cheap (no random bytes per request).
 */
import { randomBytes } from 'node:crypto';

const GIVEN = /^[A-Za-z0-9._-]{1,64}$/;

/** A request-id source for one process: give it the client's header value, if any. */
export function requestIdSource(): (given: string | undefined) => string {
  const prefix = randomBytes(4).toString('hex');
  let counter = 0;
  return (given) => (given !== undefined && GIVEN.test(given) ? given : `${prefix}-${(++counter).toString(36)}`);
}

/** The `X-Request-Id` of raw Node headers (`[name, value, …]`), without building the headers object. */
export function givenRequestId(rawHeaders: readonly string[]): string | undefined {
  let given: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].length === 12 && rawHeaders[i].toLowerCase() === 'x-request-id') given = rawHeaders[i + 1];
  return given;
}
