/**
 * Master-key rotation for encryption at rest (`basalt keys rotate`): re-wrap the data key of every
 * sealed value — every `secret` field of every collection and every column listed in
 * `SEALED_SYSTEM_COLUMNS` — with the active master key. Values themselves are not re-encrypted.
 *
 * Safe to interrupt and to run beside live servers: rows are visited in primary-key order, a batch per
 * transaction, and a value is only replaced when it is still what was read (compare-and-set), so a
 * concurrent write is never overwritten. Re-running is the resume: values already wrapped by the
 * active key are left alone (each is still opened, so a run also proves every value readable).
 */
import type { Database, SqlValue } from '../db/index.ts';
import type { Collection, CollectionRegistry } from '../schema/index.ts';
import { SEALED_SYSTEM_COLUMNS, SecretBox, type SealedColumn } from '../secrets/index.ts';
import { encryptedFields, secretAad } from './record-codec.ts';

/** Rows per transaction. */
const BATCH_ROWS = 500;
/** Unreadable values listed by name in a report (all are counted). */
const MAX_LISTED = 100;

/** Where a value lives: table, row key and column (never the value). */
export interface SealedValueLocation {
  table: string;
  record: string;
  field: string;
}

/** What a rotation did. */
export interface RotationReport {
  /** The master key every value is now wrapped with. */
  activeKeyId: string;
  /** Values whose data key was re-wrapped. */
  rewrapped: number;
  /** Values already wrapped by the active key. */
  current: number;
  /** Values that changed between read and write (a concurrent write; left to it, not overwritten). */
  changed: number;
  /** How many values could not be opened (altered, moved, not sealed, or their key is not configured). */
  unreadable: number;
  /** The first of them by location. */
  unreadableAt: SealedValueLocation[];
}

/** Options of {@link rotateSealedValues}. */
export interface RotationOptions {
  /** Rows per transaction (default 500). */
  batchRows?: number;
  /** Called after each batch, e.g. to print progress. */
  progress?(table: string, report: RotationReport): void;
}

/** One table to visit: its key column and the sealed columns with their associated data. */
interface Target {
  table: string;
  key: string;
  /** The SELECT list: `*` for system tables (their aad may need any column), else key + sealed columns. */
  select: string;
  columns: { column: string; aad(row: Record<string, unknown>): string }[];
}

function collectionTarget(d: Database['dialect'], c: Collection): Target | undefined {
  const fields = encryptedFields(c);
  if (!fields.length) return undefined;
  return {
    table: c.name,
    key: 'id',
    select: ['id', ...fields.map((f) => f.name)].map((n) => d.quoteIdent(n)).join(', '),
    columns: fields.map((f) => ({ column: f.name, aad: (row) => secretAad(c, String(row.id), f) })),
  };
}

function systemTargets(columns: readonly SealedColumn[]): Target[] {
  const byTable = new Map<string, Target>();
  for (const col of columns) {
    const id = `${col.table}\u0000${col.key}`;
    let t = byTable.get(id);
    if (!t) byTable.set(id, (t = { table: col.table, key: col.key, select: '*', columns: [] }));
    t.columns.push({ column: col.column, aad: (row) => col.aad(row) });
  }
  return [...byTable.values()];
}

/**
 * Re-wrap every sealed value with `box`'s active master key (see the module comment). The report
 * counts what was done; `unreadable > 0` means some value cannot be opened with the configured keys.
 *
 * @example
 * const report = await rotateSealedValues(app.db, app.registry, app.secrets);
 * if (report.unreadable) process.exitCode = 1;
 */
export async function rotateSealedValues(db: Database, registry: CollectionRegistry, box: SecretBox, opts: RotationOptions = {}): Promise<RotationReport> {
  const d = db.dialect;
  const batchRows = opts.batchRows ?? BATCH_ROWS;
  const report: RotationReport = { activeKeyId: box.activeKeyId, rewrapped: 0, current: 0, changed: 0, unreadable: 0, unreadableAt: [] };
  const unreadable = (where: SealedValueLocation) => {
    report.unreadable++;
    if (report.unreadableAt.length < MAX_LISTED) report.unreadableAt.push(where);
  };
  const collections = [...registry.list()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const targets = [
    ...collections.map((c) => collectionTarget(d, c)).filter((t): t is Target => t !== undefined),
    ...systemTargets(SEALED_SYSTEM_COLUMNS),
  ];
  for (const t of targets) {
    const table = d.quoteIdent(t.table);
    const key = d.quoteIdent(t.key);
    let after: SqlValue | undefined;
    for (;;) {
      const rows = await db.transaction(async (tx) => {
        // Row locks (PostgreSQL) keep writers off the batch for its few milliseconds; the
        // compare-and-set below is what guarantees no concurrent write is lost.
        const batch = await tx.all(
          `SELECT ${t.select} FROM ${table}${after === undefined ? '' : ` WHERE ${key} > ?`} ORDER BY ${key} LIMIT ?${d.rowLockSuffix}`,
          after === undefined ? [batchRows] : [after, batchRows],
        );
        for (const row of batch) {
          for (const col of t.columns) {
            const value = row[col.column];
            if (value === null || value === undefined || value === '') continue; // the zero value is never sealed
            const where = { table: t.table, record: String(row[t.key]), field: col.column };
            if (!SecretBox.isSealed(value)) {
              unreadable(where);
              continue;
            }
            const aad = col.aad(row);
            let next: string;
            try {
              if (!box.needsRewrap(value)) {
                box.open(value, aad);
                report.current++;
                continue;
              }
              next = box.rewrap(value, aad);
            } catch {
              unreadable(where);
              continue;
            }
            const done = await tx.run(`UPDATE ${table} SET ${d.quoteIdent(col.column)} = ? WHERE ${key} = ? AND ${d.quoteIdent(col.column)} = ?`, [next, row[t.key] as SqlValue, value]);
            if (done.changes === 1) report.rewrapped++;
            else report.changed++;
          }
        }
        return batch;
      });
      opts.progress?.(t.table, report);
      if (rows.length < batchRows) break;
      after = rows[rows.length - 1][t.key] as SqlValue;
    }
  }
  return report;
}
