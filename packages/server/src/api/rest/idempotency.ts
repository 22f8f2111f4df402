/**
 * `Idempotency-Key` on writes (IETF draft "The Idempotency-Key HTTP Header Field"): the first request
 * with a key runs and its answer is stored; a replay with the same payload gets the stored answer; a
 * replay while the first is still running gets 409; the same key with another payload gets 422.
 * Keys are scoped to the caller (kind, collection and id; anonymous callers by address) and to the
 * target collection and record, kept for 24 hours; a 5xx answer is not stored, so it can be retried.
 * Stored answers are sealed ({@link SecretBox}, associated data `_idempotency/<key>`): an answer may
 * carry decrypted `secret` field values, which must never sit in the database in plaintext.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { BasaltError } from '../../errors/index.ts';
import { formatTimestamp } from '../../tools/index.ts';
import type { Database } from '../../db/index.ts';
import type { AuthService } from '../../auth/index.ts';
import type { Principal } from '../../records/index.ts';
import type { CollectionRegistry } from '../../schema/index.ts';
import { ipKey } from './rate-limit.ts';
import { principalOf } from './request-context.ts';
import { respondRaw } from './respond.ts';
import type { Metrics } from '../../telemetry/index.ts';
import type { SecretBox } from '../../secrets/index.ts';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
/**
 * The writes that take `Idempotency-Key`: records, batch and schema. Sign-ins, token refreshes, factor
 * enrolment and API-key creation are left out on purpose: their answers carry credentials that must be
 * shown once and never stored, and replaying them would hand the same tokens out again.
 */
const IDEMPOTENT_ROUTES = /^\/api\/(collections\/:collection\/records(\/:id)?|batch|collections(\/:idOrName)?)$/;
const KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** A pending entry older than this belongs to a request that died; it may be taken over. */
const ABANDONED_MS = 60 * 1000;

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey?: string;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Who a stored answer belongs to: the principal by kind, collection and id (ids of two auth
 * collections may look alike; a superuser and a user too), and for anonymous callers their address,
 * so that one anonymous client never receives another's answer.
 */
export function idempotencyPrincipal(p: Principal, ip: string): string {
  switch (p.kind) {
    case 'anonymous': return `anonymous:${ipKey(ip)}`;
    case 'superuser': return `superuser:_superusers:${String(p.record.id)}`;
    case 'record': return `record:${p.collection}:${String(p.record.id)}`;
    case 'apikey': return `apikey:${String(p.record.id)}`;
  }
}

/**
 * The stored key: principal, target (the route's collection, resolved to its id so a name and an id
 * share one scope, and the record id) and the client's key. A stored answer is only ever replayed to
 * the same principal, for the same collection and record.
 */
async function scopedKey(request: FastifyRequest, auth: AuthService, registry: CollectionRegistry, key: string): Promise<string> {
  const p = await principalOf(request, auth);
  const params = (request.params ?? {}) as { collection?: string; idOrName?: string; id?: string };
  const named = params.collection ?? params.idOrName;
  const collection = named === undefined ? '' : (registry.find(named)?.id ?? `?${named}`);
  const target = `${request.routeOptions.url ?? ''}\u0000${collection}\u0000${params.id ?? ''}`;
  return sha256(`${idempotencyPrincipal(p, request.ip)}\u0000${target}\u0000${key}`);
}

/**
 * Register the idempotency hooks on write routes (registered after this call); reads pay nothing.
 */
export function registerIdempotency(app: FastifyInstance, db: Database, auth: AuthService, registry: CollectionRegistry, metrics: Metrics, secrets: SecretBox): void {
  let lastSweep = 0;

  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined) return;
    if (typeof header !== 'string' || header.length === 0 || header.length > 255) {
      throw new BasaltError('bad_request', { message: 'Idempotency-Key must be 1 to 255 characters.' });
    }
    const key = await scopedKey(request, auth, registry, header);
    const fingerprint = sha256(`${request.method} ${request.url}\u0000${JSON.stringify(request.body ?? null)}`);
    const now = Date.now();
    if (now - lastSweep > 60_000) {
      lastSweep = now;
      await db.run('DELETE FROM _idempotency WHERE created < ?', [formatTimestamp(new Date(now - KEY_TTL_MS))]);
    }
    const inserted = await db.run(
      `INSERT INTO _idempotency (key, fingerprint, state, created) VALUES (?, ?, 'pending', ?) ON CONFLICT (key) DO NOTHING`,
      [key, fingerprint, formatTimestamp()],
    );
    if (inserted.changes === 1) {
      request.idempotencyKey = key;
      return;
    }
    const row = await db.get<{ fingerprint: string; state: string; status: number; response: string; created: string }>(
      'SELECT fingerprint, state, status, response, created FROM _idempotency WHERE key = ?', [key],
    );
    if (!row) throw new BasaltError('idempotency_in_flight');
    if (row.fingerprint !== fingerprint) throw new BasaltError('idempotency_key_reused');
    if (row.state === 'pending') {
      const age = now - new Date(row.created.replace(' ', 'T')).getTime();
      if (age < ABANDONED_MS) throw new BasaltError('idempotency_in_flight');
      const taken = await db.run(`UPDATE _idempotency SET created = ? WHERE key = ? AND state = 'pending' AND created = ?`, [formatTimestamp(), key, row.created]);
      if (taken.changes !== 1) throw new BasaltError('idempotency_in_flight');
      request.idempotencyKey = key;
      return;
    }
    // A stored answer that no longer opens (its master key was removed before `basalt keys rotate`)
    // answers secret_unreadable: the write it answers already happened, so it must not run again.
    // Answers stored by a Basalt from before sealing (kept 24 h at most) are plain JSON.
    const text = row.response.startsWith('{') ? row.response : secrets.open(row.response, idempotencyAad(key));
    const stored = JSON.parse(text) as { contentType: string; body: string };
    return respondRaw(request, reply.code(Number(row.status)).header('idempotent-replayed', 'true'), metrics, stored.contentType, stored.body);
  };

  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const key = request.idempotencyKey;
    if (!key) return payload;
    request.idempotencyKey = undefined;
    if (reply.statusCode >= 500) {
      await db.run(`DELETE FROM _idempotency WHERE key = ? AND state = 'pending'`, [key]);
      return payload;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
    const response = secrets.seal(JSON.stringify({ contentType, body }), idempotencyAad(key));
    await db.run(`UPDATE _idempotency SET state = 'done', status = ?, response = ? WHERE key = ?`, [reply.statusCode, response, key]);
    return payload;
  };

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => WRITE_METHODS.has(m)) || !IDEMPOTENT_ROUTES.test(route.url)) return;
    route.preHandler = [...asArray(route.preHandler), preHandler];
    route.onSend = [...asArray(route.onSend), onSend];
  });
}

/** The associated data of a stored answer (also used by `basalt keys rotate`, see secrets/sealed-columns.ts). */
export function idempotencyAad(key: string): string {
  return `_idempotency/${key}`;
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
