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
export const SEALED_SYSTEM_COLUMNS: SealedColumn[] = [
  // Stored Idempotency-Key answers (they may carry decrypted secret fields); api/rest/idempotency.ts.
  { table: '_idempotency', key: 'key', column: 'response', aad: (row) => `_idempotency/${String(row.key)}` },
  // TOTP secrets, bound to their owner; src/auth/mfa/totp-factor.ts.
  { table: '_mfa_totp', key: 'id', column: 'secret', aad: (row) => `_mfa_totp/${String(row.collection_id)}/${String(row.record_id)}` },
  // OAuth2 provider tokens of linked identities ('' when the provider gave none); src/auth/oauth/oauth-identities.ts.
  { table: '_oauth_identities', key: 'id', column: 'access_token', aad: (row) => `_oauth_identities/${String(row.id)}/access_token` },
  { table: '_oauth_identities', key: 'id', column: 'refresh_token', aad: (row) => `_oauth_identities/${String(row.id)}/refresh_token` },
  // OAuth provider client secrets; src/auth/oauth/oauth-client-secrets.ts.
  { table: '_oauth_client_secrets', key: 'id', column: 'secret', aad: (row) => `_oauth_client_secrets/${String(row.collection_id)}/${String(row.provider)}` },
];
