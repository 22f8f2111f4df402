/**
 * Provider profiles → one shape ({@link OAuthUser}). The one judgement made here is whether the
 * provider vouches for the email address (`emailVerified`): linking to an existing account depends on
 * it, so anything short of an explicit "verified" from the provider counts as unverified.
 */
import type { ProfileKind } from './oauth-presets.ts';

/** A provider's user, as Basalt uses it (and answers it in `meta`, PocketBase's shape). */
export interface OAuthUser {
  /** The provider's stable subject (`sub`, or the account id): the identity key. */
  id: string;
  name: string;
  username: string;
  email: string;
  /** True only when the provider explicitly says it confirmed the address. */
  emailVerified: boolean;
  avatarURL: string;
  /** The profile as the provider answered it (userinfo, or the ID token claims). */
  rawUser: Record<string, unknown>;
}

/** Protocol claims of an ID token that say nothing about the user (kept out of `rawUser`). */
const TOKEN_CLAIMS = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'auth_time', 'nonce', 'at_hash', 'c_hash', 's_hash', 'azp', 'sid', 'jti', 'acr', 'amr']);

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
}

/** Providers answer `true`, and some (Apple) the string `"true"`. */
function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}

/**
 * An OpenID Connect user from the ID token's claims and the userinfo answer (same subject, checked by
 * openid-client). Userinfo wins where both have a value.
 */
export function profileFromOidc(claims: Record<string, unknown>, userinfo: Record<string, unknown> | undefined, kind: ProfileKind): OAuthUser {
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) if (!TOKEN_CLAIMS.has(k)) merged[k] = v;
  if (userinfo) Object.assign(merged, userinfo);
  const email = str(merged.email);
  return {
    id: str(claims.sub),
    name: str(merged.name) || [str(merged.given_name), str(merged.family_name)].filter(Boolean).join(' '),
    username: str(merged.preferred_username) || str(merged.nickname),
    email,
    emailVerified: kind === 'oidc' && email !== '' && isTrue(merged.email_verified),
    avatarURL: str(merged.picture),
    rawUser: merged,
  };
}

/** A GitHub user: the email is the primary address GitHub marks verified (from `/user/emails`). */
export function profileFromGithub(user: Record<string, unknown>, emails: unknown): OAuthUser {
  const list = Array.isArray(emails) ? (emails as Record<string, unknown>[]) : [];
  const primary = list.find((e) => e && e.primary === true && e.verified === true && typeof e.email === 'string');
  // The profile's public email may be unconfirmed: usable for a new account, never for linking.
  const email = primary ? str(primary.email) : str(user.email);
  return {
    id: str(user.id),
    name: str(user.name),
    username: str(user.login),
    email,
    emailVerified: primary !== undefined,
    avatarURL: str(user.avatar_url),
    rawUser: user,
  };
}

/** A Discord user: `verified` says whether the account's email was confirmed. */
export function profileFromDiscord(user: Record<string, unknown>): OAuthUser {
  const id = str(user.id);
  const avatar = str(user.avatar);
  const email = str(user.email);
  return {
    id,
    name: str(user.global_name) || str(user.username),
    username: str(user.username),
    email,
    emailVerified: email !== '' && user.verified === true,
    avatarURL: id && avatar ? `https://cdn.discordapp.com/avatars/${encodeURIComponent(id)}/${encodeURIComponent(avatar)}.png` : '',
    rawUser: user,
  };
}

/**
 * Any other OAuth 2.0 userinfo JSON, read by the usual member names. The email counts as verified
 * only on OpenID Connect's `email_verified` claim: a bare `verified` means different things to
 * different providers (an account, a phone, a badge), so it never vouches for an email here; presets
 * whose API documents such a member (GitHub, Discord) have their own readers.
 */
export function profileFromOAuth2(user: Record<string, unknown>): OAuthUser {
  const email = str(user.email);
  return {
    id: str(user.sub) || str(user.id),
    name: str(user.name),
    username: str(user.preferred_username) || str(user.login) || str(user.username),
    email,
    emailVerified: email !== '' && isTrue(user.email_verified),
    avatarURL: str(user.picture) || str(user.avatar_url),
    rawUser: user,
  };
}
