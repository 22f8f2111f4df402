/**
 * OAuth provider client secrets, sealed at rest (`_oauth_client_secrets`, one row per collection and
 * provider) instead of in the collection definition: definitions are copied into the change log,
 * migration files and API answers, secrets must not be. The registry calls {@link sealClientSecrets}
 * inside every schema change's transaction; the sign-in flow reads the secret back with
 * {@link OAuthClientSecrets.get}.
 */
import type { Database, Executor } from '../../db/index.ts';
import type { Collection } from '../../schema/index.ts';
import type { SecretBox } from '../../secrets/index.ts';

/** The associated data of a sealed client secret. */
export function clientSecretAad(collectionId: string, provider: string): string {
  return `_oauth_client_secrets/${collectionId}/${provider}`;
}

/**
 * Move the client secrets of `after` (a collection about to be stored) into the sealed table, and
 * answer the definition with empty `clientSecret`s. An empty secret in the definition keeps the sealed
 * one (that is how the API and migration files show it); providers that are gone lose theirs. With
 * `after` null (a deleted collection) every secret of `collectionId` goes.
 */
export async function sealClientSecrets(tx: Executor, box: SecretBox, collectionId: string, after: Collection | null): Promise<Collection | null> {
  const providers = after?.oauth2?.providers ?? [];
  const kept = providers.map((p) => p.name);
  const stale = await tx.all<{ provider: string }>('SELECT provider FROM _oauth_client_secrets WHERE collection_id = ?', [collectionId]);
  for (const row of stale) {
    if (!kept.includes(row.provider)) await tx.run('DELETE FROM _oauth_client_secrets WHERE id = ?', [`${collectionId}/${row.provider}`]);
  }
  if (!after || !after.oauth2) return after;
  for (const p of providers) {
    if (!p.clientSecret) continue;
    const sealed = box.seal(p.clientSecret, clientSecretAad(collectionId, p.name));
    await tx.run(
      'INSERT INTO _oauth_client_secrets (id, collection_id, provider, secret) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET secret = excluded.secret',
      [`${collectionId}/${p.name}`, collectionId, p.name, sealed],
    );
  }
  return { ...after, oauth2: { ...after.oauth2, providers: providers.map((p) => ({ ...p, clientSecret: '' })) } };
}

/** Reads sealed client secrets. */
export class OAuthClientSecrets {
  readonly #db: Database;
  readonly #box: SecretBox;

  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** The client secret of a provider, or '' when it has none. */
  async get(collectionId: string, provider: string): Promise<string> {
    const row = await this.#db.get<{ secret: string }>('SELECT secret FROM _oauth_client_secrets WHERE id = ?', [`${collectionId}/${provider}`]);
    return row ? this.#box.open(row.secret, clientSecretAad(collectionId, provider)) : '';
  }
}
