/**
 * Who is asking. Every records-service call carries a principal (ARCHITECTURE invariant 1): the API
 * surfaces resolve it from the request; nothing reaches data without one.
 */
export type Principal =
  | { kind: 'anonymous' }
  /** A record of the `_superusers` collection: bypasses every rule. `session`: the sign-in session of the token. */
  | { kind: 'superuser'; record: Record<string, unknown>; session?: string; amr?: readonly string[] }
  /** A record of an auth collection. `amr`: how its token's session signed in (RFC 8176). */
  | { kind: 'record'; collection: string; record: Record<string, unknown>; session?: string; amr?: readonly string[] }
  /**
   * An API key (servers). `record` is what rules see as `@request.auth`: `{id, collectionName:
   * "_api_keys", name, roles, permissions}`. Never a superuser; it has no sessions.
   */
  | { kind: 'apikey'; record: Record<string, unknown> };

/** The anonymous principal. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** True for superusers. */
export function isSuperuser(p: Principal): boolean {
  return p.kind === 'superuser';
}
