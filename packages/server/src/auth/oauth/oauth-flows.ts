/**
 * Sign-in flows kept on the server (`_oauth_flows`): one row per provider per `auth-methods` answer,
 * holding what the callback must match — the `state` (stored hashed), the PKCE challenge (the S256
 * hash of the verifier; the verifier itself is never stored), the nonce, the provider and collection,
 * and an expiry. A flow is consumed by deleting it: of two concurrent callbacks only one deletes the
 * row, so a flow signs in at most once.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Database } from '../../db/index.ts';
import { formatTimestamp } from '../../tools/index.ts';

/** How long a flow can be completed, seconds (PocketBase's providers allow the user a few minutes too). */
export const FLOW_TTL_SECONDS = 600;

/** A flow as a client receives it: PocketBase's `auth-methods` provider members. */
export interface NewFlow {
  state: string;
  codeVerifier: string;
  codeChallenge: string;
  nonce: string;
}

/** A stored flow. */
export interface FlowRow {
  stateHash: string;
  challenge: string;
  nonce: string;
  collectionId: string;
  provider: string;
  /** The redirect URI the client pinned when it started the flow ('' = not pinned). */
  redirectURL: string;
  expires: string;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

/** The S256 PKCE challenge of a verifier (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return sha256(verifier);
}

/** Stores and consumes flows. */
export class OAuthFlows {
  readonly #db: Database;
  #lastSweep = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Start a flow for `provider` of a collection. */
  async start(collectionId: string, provider: string, redirectURL = ''): Promise<NewFlow> {
    const state = oidc.randomState();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const codeChallenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
    const nonce = oidc.randomNonce();
    const now = new Date();
    await this.#db.run(
      'INSERT INTO _oauth_flows (state_hash, challenge, nonce, collection_id, provider, redirect_url, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [sha256(state), codeChallenge, nonce, collectionId, provider, redirectURL, formatTimestamp(now), formatTimestamp(new Date(now.getTime() + FLOW_TTL_SECONDS * 1000))],
    );
    return { state, codeVerifier, codeChallenge, nonce };
  }

  /**
   * Take the flow with this `state` (or, without one, this PKCE verifier's challenge) out of the store.
   * Answers undefined when there is none, it expired, or a concurrent call took it first.
   */
  async consume(by: { state: string } | { codeVerifier: string }): Promise<FlowRow | undefined> {
    const [column, value] = 'state' in by ? ['state_hash', sha256(by.state)] : ['challenge', s256(by.codeVerifier)];
    const row = await this.#db.get<{ state_hash: string; challenge: string; nonce: string; collection_id: string; provider: string; redirect_url: string; expires: string }>(
      `SELECT state_hash, challenge, nonce, collection_id, provider, redirect_url, expires FROM _oauth_flows WHERE ${column} = ?`,
      [value],
    );
    if (!row) return undefined;
    // The delete decides: whoever removes the row owns the flow; a second caller changes nothing.
    const { changes } = await this.#db.run('DELETE FROM _oauth_flows WHERE state_hash = ?', [row.state_hash]);
    if (changes !== 1 || row.expires <= formatTimestamp()) return undefined;
    return { stateHash: row.state_hash, challenge: row.challenge, nonce: row.nonce, collectionId: row.collection_id, provider: row.provider, redirectURL: row.redirect_url, expires: row.expires };
  }

  /** Drop expired flows (called as flows are started, at most once a minute per node, so the table stays small). */
  async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    await this.#db.run('DELETE FROM _oauth_flows WHERE expires <= ?', [formatTimestamp()]);
  }
}
