import type { Database } from './db-types.ts';

/**
 * Create Basalt's own tables when missing. They are plain tables on both dialects; JSON documents
 * that Basalt never filters inside (collection definitions, change data) are kept as TEXT.
 */
export async function ensureSystemTables(db: Database): Promise<void> {
  const d = db.dialect;
  await db.transaction(async (tx) => {
    if (d.bootstrapLock) await tx.get(d.bootstrapLock);
    await tx.run(`CREATE TABLE IF NOT EXISTS _collections (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      definition TEXT NOT NULL,
      created TEXT NOT NULL,
      updated TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _changes (
      seq ${d.serialPrimaryKey},
      collection TEXT NOT NULL,
      record_id TEXT NOT NULL,
      op TEXT NOT NULL,
      data TEXT NOT NULL,
      created TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _migrations (
      name TEXT PRIMARY KEY NOT NULL,
      applied TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _params (
      key TEXT PRIMARY KEY NOT NULL,
      value TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _refresh_tokens (
      hash TEXT PRIMARY KEY NOT NULL,
      family TEXT NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      token_key_hash TEXT NOT NULL,
      generation INTEGER NOT NULL,
      created TEXT NOT NULL,
      expires TEXT NOT NULL,
      used TEXT NOT NULL DEFAULT '',
      revoked INTEGER NOT NULL DEFAULT 0
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _refresh_tokens_family ON _refresh_tokens (family)');
    // Session lists, logout-everywhere and key changes look tokens up by owner; housekeeping by expiry.
    await tx.run('CREATE INDEX IF NOT EXISTS _refresh_tokens_owner ON _refresh_tokens (collection_id, record_id)');
    await tx.run('CREATE INDEX IF NOT EXISTS _refresh_tokens_expires ON _refresh_tokens (expires)');
    // One row per sign-in session (refresh-token family): how it signed in and from where.
    await tx.run(`CREATE TABLE IF NOT EXISTS _sessions (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      amr TEXT NOT NULL,
      ip TEXT NOT NULL,
      user_agent TEXT NOT NULL,
      created TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _sessions_owner ON _sessions (collection_id, record_id)');
    await tx.run('CREATE INDEX IF NOT EXISTS _sessions_created ON _sessions (created)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _api_keys (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT NOT NULL,
      hash TEXT NOT NULL,
      roles TEXT NOT NULL,
      created TEXT NOT NULL,
      expires TEXT NOT NULL,
      last_used TEXT NOT NULL,
      revoked INTEGER NOT NULL DEFAULT 0,
      created_by TEXT NOT NULL
    )`);
    // OAuth provider client secrets, sealed (auth/oauth/oauth-client-secrets.ts), out of the definitions.
    await tx.run(`CREATE TABLE IF NOT EXISTS _oauth_client_secrets (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      provider TEXT NOT NULL,
      secret TEXT NOT NULL
    )`);
    await tx.run(`CREATE TABLE IF NOT EXISTS _audit (
      seq ${d.serialPrimaryKey},
      created TEXT NOT NULL,
      action TEXT NOT NULL,
      outcome TEXT NOT NULL,
      actor TEXT NOT NULL,
      target TEXT NOT NULL,
      ip TEXT NOT NULL,
      details TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _audit_action ON _audit (action, seq)');
    await tx.run('CREATE INDEX IF NOT EXISTS _audit_created ON _audit (created)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _rate_limits (
      key TEXT PRIMARY KEY NOT NULL,
      win INTEGER NOT NULL,
      hits INTEGER NOT NULL
    )`);
    // Single-use email tokens (verification, password reset, email change): only a SHA-256 of each.
    await tx.run(`CREATE TABLE IF NOT EXISTS _email_tokens (
      hash TEXT PRIMARY KEY NOT NULL,
      purpose TEXT NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      email TEXT NOT NULL,
      new_email TEXT NOT NULL DEFAULT '',
      token_key_hash TEXT NOT NULL,
      created TEXT NOT NULL,
      expires TEXT NOT NULL,
      used TEXT NOT NULL DEFAULT ''
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _email_tokens_expires ON _email_tokens (expires)');
    // Email one-time passwords: argon2id of the code, wrong tries counted, burnt after a few.
    await tx.run(`CREATE TABLE IF NOT EXISTS _otps (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      hash TEXT NOT NULL,
      sent_to TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      created TEXT NOT NULL,
      expires TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _otps_expires ON _otps (expires)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _idempotency (
      key TEXT PRIMARY KEY NOT NULL,
      fingerprint TEXT NOT NULL,
      state TEXT NOT NULL,
      status INTEGER NOT NULL DEFAULT 0,
      response TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL
    )`);
    // OAuth2 sign-in flows (auth/oauth): single use, short-lived; the state is stored hashed and the
    // PKCE verifier only as its S256 challenge.
    await tx.run(`CREATE TABLE IF NOT EXISTS _oauth_flows (
      state_hash TEXT PRIMARY KEY NOT NULL,
      challenge TEXT NOT NULL UNIQUE,
      nonce TEXT NOT NULL,
      collection_id TEXT NOT NULL,
      provider TEXT NOT NULL,
      redirect_url TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL,
      expires TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _oauth_flows_expires ON _oauth_flows (expires)');
    // External identities linked to auth records; provider tokens sealed (SecretBox).
    await tx.run(`CREATE TABLE IF NOT EXISTS _oauth_identities (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      provider TEXT NOT NULL,
      subject TEXT NOT NULL,
      email TEXT NOT NULL DEFAULT '',
      email_verified INTEGER NOT NULL DEFAULT 0,
      linked_unverified INTEGER NOT NULL DEFAULT 0,
      access_token TEXT NOT NULL DEFAULT '',
      refresh_token TEXT NOT NULL DEFAULT '',
      token_expiry TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL,
      updated TEXT NOT NULL,
      UNIQUE (collection_id, provider, subject),
      UNIQUE (collection_id, record_id, provider)
    )`);
    // MFA (src/auth/mfa): first factors waiting for a second (PocketBase's `mfaId`), single use.
    await tx.run(`CREATE TABLE IF NOT EXISTS _mfas (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      method TEXT NOT NULL,
      amr TEXT NOT NULL,
      created TEXT NOT NULL,
      expires TEXT NOT NULL
    )`);
    // One TOTP authenticator per record: the secret sealed (SecretBox), the last accepted time step.
    await tx.run(`CREATE TABLE IF NOT EXISTS _mfa_totp (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      secret TEXT NOT NULL,
      confirmed INTEGER NOT NULL DEFAULT 0,
      last_step INTEGER NOT NULL DEFAULT 0,
      created TEXT NOT NULL,
      updated TEXT NOT NULL
    )`);
    await tx.run('CREATE UNIQUE INDEX IF NOT EXISTS _mfa_totp_owner ON _mfa_totp (collection_id, record_id)');
    // Recovery codes: SHA-256 hashes only; `used` is set once.
    await tx.run(`CREATE TABLE IF NOT EXISTS _mfa_recovery_codes (
      hash TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      used TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL
    )`);
    await tx.run('CREATE INDEX IF NOT EXISTS _mfa_recovery_codes_owner ON _mfa_recovery_codes (collection_id, record_id)');
    // WebAuthn credentials (passkeys) and the challenges handed out for them (single use).
    await tx.run(`CREATE TABLE IF NOT EXISTS _passkeys (
      id TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      credential_id TEXT NOT NULL,
      public_key TEXT NOT NULL,
      counter BIGINT NOT NULL DEFAULT 0,
      transports TEXT NOT NULL DEFAULT '[]',
      device_type TEXT NOT NULL DEFAULT '',
      backed_up INTEGER NOT NULL DEFAULT 0,
      name TEXT NOT NULL DEFAULT '',
      created TEXT NOT NULL,
      last_used TEXT NOT NULL DEFAULT ''
    )`);
    await tx.run('CREATE UNIQUE INDEX IF NOT EXISTS _passkeys_credential ON _passkeys (collection_id, credential_id)');
    await tx.run('CREATE INDEX IF NOT EXISTS _passkeys_owner ON _passkeys (collection_id, record_id)');
    await tx.run(`CREATE TABLE IF NOT EXISTS _webauthn_challenges (
      hash TEXT PRIMARY KEY NOT NULL,
      collection_id TEXT NOT NULL,
      record_id TEXT NOT NULL,
      purpose TEXT NOT NULL,
      mfa_id TEXT NOT NULL DEFAULT '',
      expires TEXT NOT NULL
    )`);
  });
}
