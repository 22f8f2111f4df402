/**
 * External identities (`_oauth_identities`): which provider account (provider + subject) signs in to
 * which record of an auth collection. The provider's access and refresh tokens are kept sealed
 * ({@link SecretBox}, associated data naming the row and column), never answered by any API.
 */
import type { Database, Executor } from '../../db/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import { formatTimestamp, newId } from '../../tools/index.ts';

/** The associated data a token column of an identity row is sealed with. */
export function identityTokenAad(id: string, column: 'access_token' | 'refresh_token'): string {
  return `_oauth_identities/${id}/${column}`;
}

/** A linked identity (no tokens). */
export interface Identity {
  id: string;
  collectionId: string;
  recordId: string;
  provider: string;
  subject: string;
  email: string;
  /** The provider vouched for `email` when it was linked. */
  emailVerified: boolean;
  /**
   * The record was not verified when this identity was linked. Such links are dropped when the record
   * later gets verified (the new owner of the address proved it; the link may be a squatter's).
   */
  linkedUnverified: boolean;
  created: string;
  updated: string;
}

/** Provider tokens to keep (sealed). */
export interface ProviderTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt?: number;
}

type IdentityDbRow = {
  id: string;
  collection_id: string;
  record_id: string;
  provider: string;
  subject: string;
  email: string;
  email_verified: number | bigint;
  linked_unverified: number | bigint;
  created: string;
  updated: string;
};

const COLUMNS = 'id, collection_id, record_id, provider, subject, email, email_verified, linked_unverified, created, updated';

function toIdentity(r: IdentityDbRow): Identity {
  return {
    id: r.id, collectionId: r.collection_id, recordId: r.record_id, provider: r.provider, subject: r.subject, email: r.email,
    emailVerified: Number(r.email_verified) === 1, linkedUnverified: Number(r.linked_unverified) === 1, created: r.created, updated: r.updated,
  };
}

/** Reads and writes identities. */
export class OAuthIdentities {
  readonly #db: Database;
  readonly #secrets: SecretBox;

  constructor(db: Database, secrets: SecretBox) {
    this.#db = db;
    this.#secrets = secrets;
  }

  /** The identity of a provider account in a collection. */
  async find(collectionId: string, provider: string, subject: string, ex: Executor = this.#db): Promise<Identity | undefined> {
    const r = await ex.get<IdentityDbRow>(`SELECT ${COLUMNS} FROM _oauth_identities WHERE collection_id = ? AND provider = ? AND subject = ?`, [collectionId, provider, subject]);
    return r ? toIdentity(r) : undefined;
  }

  /** Every identity linked to a record. */
  async ofRecord(collectionId: string, recordId: string): Promise<Identity[]> {
    const rows = await this.#db.all<IdentityDbRow>(`SELECT ${COLUMNS} FROM _oauth_identities WHERE collection_id = ? AND record_id = ? ORDER BY created, id`, [collectionId, recordId]);
    return rows.map(toIdentity);
  }

  /** Link a provider account to a record. A unique violation means it (or this provider) is linked already. */
  async link(ex: Executor, i: { collectionId: string; recordId: string; provider: string; subject: string; email: string; emailVerified: boolean; linkedUnverified: boolean }, tokens: ProviderTokens): Promise<Identity> {
    const id = newId();
    const now = formatTimestamp();
    await ex.run(
      `INSERT INTO _oauth_identities (${COLUMNS}, access_token, refresh_token, token_expiry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [id, i.collectionId, i.recordId, i.provider, i.subject, i.email, i.emailVerified ? 1 : 0, i.linkedUnverified ? 1 : 0, now, now, ...this.#sealed(id, tokens)],
    );
    return { id, ...i, created: now, updated: now };
  }

  /** Keep the tokens of a sign-in with a linked identity. */
  async updateTokens(id: string, email: string, emailVerified: boolean, tokens: ProviderTokens): Promise<void> {
    await this.#db.run(
      'UPDATE _oauth_identities SET email = ?, email_verified = ?, access_token = ?, refresh_token = ?, token_expiry = ?, updated = ? WHERE id = ?',
      [email, emailVerified ? 1 : 0, ...this.#sealed(id, tokens), formatTimestamp(), id],
    );
  }

  /** The provider tokens of an identity, opened (server-side use only: calling the provider's API). */
  async tokens(id: string): Promise<ProviderTokens | undefined> {
    const r = await this.#db.get<{ access_token: string; refresh_token: string; token_expiry: string }>('SELECT access_token, refresh_token, token_expiry FROM _oauth_identities WHERE id = ?', [id]);
    if (!r) return undefined;
    const open = (v: string, column: 'access_token' | 'refresh_token') => (v === '' ? '' : this.#secrets.open(v, identityTokenAad(id, column)));
    return { accessToken: open(r.access_token, 'access_token'), refreshToken: open(r.refresh_token, 'refresh_token'), ...(r.token_expiry ? { expiresAt: Date.parse(r.token_expiry.replace(' ', 'T')) } : {}) };
  }

  /** Remove one identity of a record; answers whether it existed. */
  async unlink(collectionId: string, recordId: string, id: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM _oauth_identities WHERE id = ? AND collection_id = ? AND record_id = ?', [id, collectionId, recordId])).changes === 1;
  }

  /** Remove every identity of a record (the record is deleted). */
  async unlinkAll(ex: Executor, collectionId: string, recordId: string): Promise<void> {
    await ex.run('DELETE FROM _oauth_identities WHERE collection_id = ? AND record_id = ?', [collectionId, recordId]);
  }

  /** Remove the identities linked while the record was unverified (it has just been verified). */
  async unlinkUnverified(ex: Executor, collectionId: string, recordId: string): Promise<number> {
    return (await ex.run('DELETE FROM _oauth_identities WHERE collection_id = ? AND record_id = ? AND linked_unverified = 1', [collectionId, recordId])).changes;
  }

  /** Remove an identity by id (it points to a record that no longer exists). */
  async drop(id: string): Promise<void> {
    await this.#db.run('DELETE FROM _oauth_identities WHERE id = ?', [id]);
  }

  #sealed(id: string, t: ProviderTokens): [string, string, string] {
    return [
      t.accessToken ? this.#secrets.seal(t.accessToken, identityTokenAad(id, 'access_token')) : '',
      t.refreshToken ? this.#secrets.seal(t.refreshToken, identityTokenAad(id, 'refresh_token')) : '',
      t.expiresAt !== undefined ? formatTimestamp(new Date(t.expiresAt)) : '',
    ];
  }
}
