import type { Database, Executor } from './db-types.ts';
import { formatTimestamp } from '../tools/index.ts';

/** The kind of write a change event records. */
export type ChangeOperation = 'create' | 'update' | 'delete';

/** One committed write, as stored in the change log. */
export interface ChangeEvent {
  /** Monotonic sequence number; commit order. */
  seq: number;
  collection: string;
  recordId: string;
  op: ChangeOperation;
  /** The record after the write (before it, for deletes), as stored. */
  data: Record<string, unknown>;
  created: string;
}

/** A change to append, inside the transaction that made it. */
export type NewChange = Omit<ChangeEvent, 'seq' | 'created'>;

/**
 * Append change events in the writing transaction (ARCHITECTURE invariant 3: no commit without its
 * event, no event without its commit). Call it last in the transaction: on PostgreSQL it takes the
 * change-log lock, which is held until commit.
 */
export async function appendChanges(tx: Executor, db: Pick<Database, 'dialect'>, changes: readonly NewChange[]): Promise<number[]> {
  if (changes.length === 0) return [];
  if (db.dialect.changeLogLock) await tx.get(db.dialect.changeLogLock);
  const created = formatTimestamp();
  const seqs: number[] = [];
  for (const c of changes) {
    const row = await tx.get<{ seq: number }>(
      'INSERT INTO _changes (collection, record_id, op, data, created) VALUES (?, ?, ?, ?, ?) RETURNING seq',
      [c.collection, c.recordId, c.op, JSON.stringify(c.data), created],
    );
    seqs.push(Number(row!.seq));
  }
  return seqs;
}

/** Read committed change events with `seq > after`, oldest first. */
export async function readChanges(db: Executor, after: number, limit: number): Promise<ChangeEvent[]> {
  const rows = await db.all<{ seq: number; collection: string; record_id: string; op: string; data: string; created: string }>(
    'SELECT seq, collection, record_id, op, data, created FROM _changes WHERE seq > ? ORDER BY seq LIMIT ?',
    [after, limit],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    collection: r.collection,
    recordId: r.record_id,
    op: r.op as ChangeOperation,
    data: JSON.parse(r.data) as Record<string, unknown>,
    created: r.created,
  }));
}

/** The newest sequence number, 0 when the log is empty. */
export async function lastChangeSeq(db: Executor): Promise<number> {
  const row = await db.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM _changes');
  return Number(row?.seq ?? 0);
}
