/**
 * Per-request plumbing shared by the routes: the principal (from `Authorization`) and the rule
 * context (`@request.*`).
 */
import type { FastifyRequest } from 'fastify';
import { BasaltError } from '../../errors/index.ts';
import { ANONYMOUS, type CallContext, type Principal } from '../../records/index.ts';
import type { RequestContext } from '../../rules/index.ts';
import type { AuthService, ClientInfo } from '../../auth/index.ts';
import { rawHeader } from './respond.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The principal of a request, resolved once. An invalid token is a 401, never silently anonymous. */
export async function principalOf(request: FastifyRequest, auth: AuthService): Promise<Principal> {
  if (!request.principal) request.principal = await auth.principalFromHeader(request.headers.authorization);
  return request.principal;
}

/** Like {@link principalOf}, without a promise for requests that carry no credentials (the hot path). */
function principalNow(request: FastifyRequest, auth: AuthService): Principal | Promise<Principal> {
  if (request.principal) return request.principal;
  if (rawHeader(request, 'authorization') === undefined) return (request.principal = ANONYMOUS);
  return principalOf(request, auth);
}

/**
 * PocketBase's `mfaId` of a sign-in request: from the body, or from the query string (where the
 * `pocketbase` SDK puts it: `authWithPassword(id, pw, { mfaId })` sends unknown options as query).
 */
export function mfaIdOf(request: FastifyRequest): unknown {
  const body = request.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && body.mfaId !== undefined && body.mfaId !== '') return body.mfaId;
  return (request.query as Record<string, unknown> | undefined)?.mfaId;
}

/** Where a request comes from, for sign-in sessions and notices. */
export function clientInfo(request: FastifyRequest): ClientInfo {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : '' };
}

/** Require a superuser. */
export async function requireSuperuser(request: FastifyRequest, auth: AuthService): Promise<Principal> {
  const p = await principalOf(request, auth);
  if (p.kind === 'anonymous') throw new BasaltError('unauthorized');
  if (p.kind !== 'superuser') throw new BasaltError('superuser_required');
  return p;
}

/** Read a single-valued query parameter; repeated parameters are a 400. */
export function queryString(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new BasaltError('bad_request', { message: `The query parameter "${name}" must be given once.` });
  return v;
}

/** What a rule context reads of a request: a Fastify request, or a plain Node one (fast reads). */
export interface RequestLike {
  method?: string;
  query: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * `@request.*` for rules, built lazily: most requests never evaluate a rule that reads headers or
 * query values, so copying them eagerly would be wasted work on the hot path.
 */
export class LazyRequestContext implements RequestContext {
  readonly auth: Record<string, unknown> | null;
  readonly body: Record<string, unknown>;
  readonly method: string;
  readonly context = 'default';
  readonly #request: RequestLike;
  #query?: Record<string, string>;
  #headers?: Record<string, string>;

  constructor(request: RequestLike, principal: Principal, body: unknown) {
    this.#request = request;
    this.auth = principal.kind === 'anonymous' ? null : principal.record;
    this.body = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    this.method = request.method ?? 'GET';
  }

  get query(): Record<string, string> {
    if (!this.#query) {
      const q: Record<string, string> = {};
      for (const [k, v] of Object.entries((this.#request.query as Record<string, unknown>) ?? {})) if (typeof v === 'string') q[k] = v;
      this.#query = q;
    }
    return this.#query;
  }

  /** Headers as rules see them: lower-case names with `-` as `_` (PocketBase), no credentials. */
  get headers(): Record<string, string> {
    if (!this.#headers) {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.#request.headers)) {
        if (k === 'authorization' || k === 'cookie') continue;
        if (typeof v === 'string') out[k.replaceAll('-', '_')] = v;
      }
      this.#headers = out;
    }
    return this.#headers;
  }
}

/** The call context for the records service (synchronous for anonymous requests). */
export function callContext(request: FastifyRequest, auth: AuthService, body?: unknown): CallContext | Promise<CallContext> {
  const p = principalNow(request, auth);
  if (p instanceof Promise) return p.then((principal) => ({ principal, request: new LazyRequestContext(request, principal, body) }));
  return { principal: p, request: new LazyRequestContext(request, p, body) };
}
