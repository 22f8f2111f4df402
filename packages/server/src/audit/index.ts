/**
 * The audit trail: security-relevant events (sign-ins and failures, refresh-token reuse, logouts,
 * password changes, key rotation) and every superuser action, readable by superusers. Entries carry no
 * secrets: never a password, token or hash.
 */
import type { Database, Executor } from '../db/index.ts';
import { formatTimestamp } from '../tools/index.ts';

/** One audit entry as stored and listed. */
export interface AuditEntry {
  seq: number;
  created: string;
  /** e.g. `auth.signin`, `auth.refresh_reuse`, `record.update`, `collection.create`, `keys.rotate_signing`. */
  action: string;
  outcome: 'success' | 'failure';
  /** Who: `superuser:<id>`, `<collection>:<id>`, `anonymous`, or `cli`. */
  actor: string;
  /** What: `<collection>/<id>`, a collection name, or an identity that failed to sign in. */
  target: string;
  ip: string;
  details: Record<string, unknown>;
}

/** What callers record (sequence and time are added). */
export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'created' | 'ip' | 'details'> & { ip?: string; details?: Record<string, unknown> };

/** Writes and reads `_audit`. */
export class AuditLog {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Record an entry; pass `tx` to make it part of the write it describes. */
  async record(entry: NewAuditEntry, tx?: Executor): Promise<void> {
    await (tx ?? this.#db).run(
      'INSERT INTO _audit (created, action, outcome, actor, target, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [formatTimestamp(), entry.action, entry.outcome, entry.actor, entry.target.slice(0, 300), entry.ip ?? '', JSON.stringify(entry.details ?? {})],
    );
  }

  /**
   * Delete entries older than `days` days (retention); answers how many. The deletion itself is
   * recorded, so the trail shows that (and when) it was shortened.
   */
  async prune(days: number, now = Date.now()): Promise<number> {
    if (days <= 0) return 0;
    const cutoff = formatTimestamp(new Date(now - days * 86_400_000));
    // In batches: one huge DELETE would hold SQLite's write lock for the whole scan.
    let changes = 0;
    for (;;) {
      const r = await this.#db.run('DELETE FROM _audit WHERE seq IN (SELECT seq FROM _audit WHERE created < ? ORDER BY seq LIMIT 1000)', [cutoff]);
      changes += r.changes;
      if (r.changes < 1000) break;
    }
    if (changes > 0) await this.record({ action: 'audit.prune', outcome: 'success', actor: 'system', target: '_audit', details: { deleted: changes, before: cutoff } });
    return changes;
  }

  /** Entries after `after`, oldest first, optionally of one action or action prefix (`auth.`). */
  async list(after: number, limit: number, action?: string): Promise<AuditEntry[]> {
    const filter = action ? (action.endsWith('.') ? ' AND action LIKE ?' : ' AND action = ?') : '';
    const params = action ? [after, action.endsWith('.') ? `${action.replace(/[%_\\]/g, '')}%` : action, limit] : [after, limit];
    const rows = await this.#db.all<{ seq: number; created: string; action: string; outcome: string; actor: string; target: string; ip: string; details: string }>(
      `SELECT seq, created, action, outcome, actor, target, ip, details FROM _audit WHERE seq > ?${filter} ORDER BY seq LIMIT ?`,
      params,
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq), outcome: r.outcome as AuditEntry['outcome'], details: JSON.parse(r.details) as Record<string, unknown> }));
  }
}

/** The actor string of a principal-like value. */
export function actorOf(p: { kind: string; collection?: string; record?: Record<string, unknown> }): string {
  if (p.kind === 'superuser') return `superuser:${String(p.record?.id ?? '')}`;
  if (p.kind === 'record') return `${p.collection}:${String(p.record?.id ?? '')}`;
  if (p.kind === 'apikey') return `apikey:${String(p.record?.id ?? '')}`;
  return 'anonymous';
}
