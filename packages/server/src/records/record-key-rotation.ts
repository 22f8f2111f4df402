/**
 * Master-key rotation for encryption at rest (`basalt keys rotate`): re-wrap the data key of every
 * sealed value — every `secret` field of every collection, every column listed in
 * `SEALED_SYSTEM_COLUMNS`, and the sealed secret values inside the change log's record data
 * (`_changes.data`) — with the active master key. Values themselves are not re-encrypted, unless
 * `reencrypt` asks for it (a fresh data key per value: for after a leak, see docs/encryption.md).
 *
 * Safe to interrupt and to run beside live servers: rows are visited in primary-key order, a batch per
 * transaction, and a value is only replaced when it is still what was read (compare-and-set), so a
 * concurrent write is never overwritten. Re-running is the resume: values already wrapped by the
 * active key are left alone (each is still opened, so a run also proves every value readable).
 */
import type { Database, SqlValue } from '../db/index.ts';
import { SCHEMA_CHANGE_COLLECTION, type Collection, type CollectionRegistry } from '../schema/index.ts';
import { SEALED_SYSTEM_COLUMNS, SecretBox, type SealedColumn } from '../secrets/index.ts';
import { encryptedFields, secretAad } from './record-codec.ts';

/** Rows per transaction. */
const BATCH_ROWS = 500;
/** Unreadable values listed by name in a report (all are counted). */
const MAX_LISTED = 100;

/**
 * Where a value lives: table, row key and column (never the value). For the change log: `_changes`,
 * the event's `seq`, and the key of the value inside its `data`.
 */
export interface SealedValueLocation {
  table: string;
  record: string;
  field: string;
}

/** What a rotation did. */
export interface RotationReport {
  /** The master key every value is now wrapped with. */
  activeKeyId: string;
  /** Values whose data key was re-wrapped (with `reencrypt`: values sealed anew under a fresh data key). */
  rewrapped: number;
  /** Values already wrapped by the active key (always 0 with `reencrypt`). */
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
  /**
   * Re-encrypt instead of re-wrapping: every value — also those already under the active key — is
   * opened and sealed again under a fresh data key. For after a leak, when data keys may have been
   * unwrapped with the old master key; re-running starts over (values cannot tell whether they were done).
   */
  reencrypt?: boolean;
}

/** How one value is renewed: the new sealed text, or undefined when it is already current. Throws when it does not open. */
type Renew = (value: string, aad: string) => string | undefined;

function renewer(box: SecretBox, reencrypt: boolean): Renew {
  if (reencrypt) return (value, aad) => box.seal(box.open(value, aad), aad);
  return (value, aad) => {
    if (box.needsRewrap(value)) return box.rewrap(value, aad);
    box.open(value, aad); // a current value is still opened: every run proves every value readable
    return undefined;
  };
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
  const renew = renewer(box, opts.reencrypt === true);
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
            let next: string | undefined;
            try {
              next = renew(value, aad);
            } catch {
              unreadable(where);
              continue;
            }
            if (next === undefined) {
              report.current++;
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
  await rotateChangeLog(db, registry, renew, batchRows, report, unreadable, opts.progress);
  return report;
}

/** Secret fields a collection has or had: field id → every name it was known by. */
type SecretFieldNames = Map<string, Set<string>>;

/** The schema as far as the change log needs it: which collections have (or had) which secret fields. */
interface SecretSchemaHistory {
  /** Every collection id ever seen → its secret fields (empty for collections that never had one). */
  byId: Map<string, SecretFieldNames>;
  /** Every name a collection was known by → the ids that carried it. */
  idsByName: Map<string, Set<string>>;
}

function noteCollection(h: SecretSchemaHistory, c: unknown): void {
  if (typeof c !== 'object' || c === null) return;
  const { id, name, fields } = c as { id?: unknown; name?: unknown; fields?: unknown };
  if (typeof id !== 'string') return;
  let secret = h.byId.get(id);
  if (!secret) h.byId.set(id, (secret = new Map()));
  if (typeof name === 'string') {
    let ids = h.idsByName.get(name);
    if (!ids) h.idsByName.set(name, (ids = new Set()));
    ids.add(id);
  }
  if (!Array.isArray(fields)) return;
  for (const f of fields as { id?: unknown; name?: unknown; type?: unknown }[]) {
    if (typeof f !== 'object' || f === null || f.type !== 'secret' || typeof f.id !== 'string') continue;
    let names = secret.get(f.id);
    if (!names) secret.set(f.id, (names = new Set()));
    if (typeof f.name === 'string') names.add(f.name);
  }
}

/**
 * Collect the secret fields of every collection from the live schema and from the schema events of the
 * change log (each carries the definition before and after), so values logged before a field or a
 * collection was renamed — or deleted — can still be attributed.
 */
async function secretSchemaHistory(db: Database, registry: CollectionRegistry, batchRows: number): Promise<SecretSchemaHistory> {
  const h: SecretSchemaHistory = { byId: new Map(), idsByName: new Map() };
  for (const c of registry.list()) noteCollection(h, c);
  let after: SqlValue = 0;
  for (;;) {
    const rows: { seq: SqlValue; data: string }[] = await db.all<{ seq: SqlValue; data: string }>('SELECT seq, data FROM _changes WHERE collection = ? AND seq > ? ORDER BY seq LIMIT ?', [SCHEMA_CHANGE_COLLECTION, after, batchRows]);
    for (const row of rows) {
      try {
        const change = JSON.parse(String(row.data)) as { before?: unknown; after?: unknown };
        noteCollection(h, change.before);
        noteCollection(h, change.after);
      } catch {
        // a schema event that does not parse attributes nothing
      }
    }
    if (rows.length < batchRows) break;
    after = rows[rows.length - 1].seq;
  }
  return h;
}

/**
 * Re-wrap the sealed secret values inside the change log's record data. A change event stores the
 * record as stored (secret fields sealed) with its `collectionId`; its values were sealed with the aad
 * `<collectionId>/<recordId>/<fieldId>`. Field names in old events may predate a rename, so a value is
 * tried under each secret field id the collection has or had (its own name first): it opens under its
 * own aad only. Values that open under none are counted unreadable (`_changes`, seq, key).
 *
 * Only events that contain a sealed-looking string are read (`data LIKE '%"bse1.%'`), and events of
 * collections that never had a secret field are skipped (a text field may hold such a string). The
 * replacement is textual (`"key":"<old>"` → `"key":"<new>"`), so the rest of the stored JSON stays
 * byte for byte what it was; the row is only updated when its data is still what was read.
 */
async function rotateChangeLog(
  db: Database, registry: CollectionRegistry, renew: Renew, batchRows: number, report: RotationReport,
  unreadable: (where: SealedValueLocation) => void, progress: RotationOptions['progress'],
): Promise<void> {
  const history = await secretSchemaHistory(db, registry, batchRows);
  const d = db.dialect;
  let after: SqlValue = 0;
  for (;;) {
    type ChangeRow = { seq: SqlValue; record_id: string; collection: string; data: string };
    const rows: ChangeRow[] = await db.transaction(async (tx) => {
      const batch = await tx.all<ChangeRow>(
        `SELECT seq, collection, record_id, data FROM _changes WHERE seq > ? AND collection <> ? AND data LIKE ? ORDER BY seq LIMIT ?${d.rowLockSuffix}`,
        [after, SCHEMA_CHANGE_COLLECTION, '%"bse1.%', batchRows],
      );
      for (const row of batch) {
        const text = String(row.data);
        let data: Record<string, unknown>;
        try {
          const parsed = JSON.parse(text) as unknown;
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
          data = parsed as Record<string, unknown>;
        } catch {
          unreadable({ table: '_changes', record: String(row.seq), field: 'data' });
          continue;
        }
        const sealed = Object.entries(data).filter((e): e is [string, string] => SecretBox.isSealed(e[1]));
        if (!sealed.length) continue;
        // The collection: the id the event carries, else every collection that had its name.
        const ids = typeof data.collectionId === 'string' ? [data.collectionId] : [...(history.idsByName.get(row.collection) ?? [])];
        const known = ids.filter((id) => history.byId.has(id));
        // A collection that never had a secret field holds no sealed values: such a string is data.
        if (known.length && known.every((id) => history.byId.get(id)!.size === 0)) continue;
        let next = text;
        let replaced = 0;
        for (const [key, value] of sealed) {
          const where = { table: '_changes', record: String(row.seq), field: key };
          const candidates = known.flatMap((id) => [...history.byId.get(id)!]
            .sort(([, a], [, b]) => Number(b.has(key)) - Number(a.has(key)))
            .map(([fieldId]) => `${id}/${row.record_id}/${fieldId}`));
          let opened = false;
          let rewrapped: string | undefined;
          for (const aad of candidates) {
            try {
              rewrapped = renew(value, aad);
              opened = true;
              break;
            } catch {
              // not this field's value (or not readable at all): try the next one
            }
          }
          if (!opened) {
            unreadable(where);
          } else if (rewrapped === undefined) {
            report.current++;
          } else {
            const from = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
            data[key] = rewrapped;
            // Not written by JSON.stringify as usual: fall back to re-serialising the event.
            next = next.includes(from) ? next.split(from).join(`${JSON.stringify(key)}:${JSON.stringify(rewrapped)}`) : JSON.stringify(data);
            replaced++;
          }
        }
        if (!replaced) continue;
        const done = await tx.run('UPDATE _changes SET data = ? WHERE seq = ? AND data = ?', [next, row.seq, text]);
        if (done.changes === 1) report.rewrapped += replaced;
        else report.changed += replaced;
      }
      return batch;
    });
    progress?.('_changes', report);
    if (rows.length < batchRows) break;
    after = rows[rows.length - 1].seq;
  }
}
