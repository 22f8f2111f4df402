/**
 * The system-table columns that hold sealed values (besides `secret` fields of collections), so that
 * `basalt keys rotate` can re-wrap every data key. A module that stores sealed values in a system
 * table adds its column here.
 */

/** A column of a system table whose values are {@link SecretBox} sealed. */
export interface SealedColumn {
  table: string;
  /** The primary-key column (rows are re-wrapped in its order, so a rotation can resume). */
  key: string;
  column: string;
  /** The associated data the value was sealed with, rebuilt from its row. */
  aad(row: Record<string, unknown>): string;
}

/** Every sealed system column. */
export const SEALED_SYSTEM_COLUMNS: SealedColumn[] = [];
