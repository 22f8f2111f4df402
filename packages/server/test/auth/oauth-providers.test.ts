/**
 * OAuth2 provider presets and profile mapping (no database, no network): what a preset fills in, and
 * when a provider's email counts as verified — the input of the linking rule (Nhost's CVE-2026-41574
 * was provider adapters calling unconfirmed emails verified).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planProvider, isLoopbackHttp } from '../../src/auth/oauth/oauth-provider.ts';
import { profileFromDiscord, profileFromGithub, profileFromOAuth2, profileFromOidc } from '../../src/auth/oauth/oauth-profile.ts';
import type { OAuthProviderOptions } from '../../src/schema/index.ts';

function provider(p: Partial<OAuthProviderOptions> & { name: string }): OAuthProviderOptions {
  return { displayName: '', clientId: 'id', clientSecret: 'secret', discoveryUrl: '', authURL: '', tokenURL: '', userInfoURL: '', pkce: null, scopes: [], ...p };
}

describe('OAuth2 provider presets', () => {
  const cases: { name: string; given: OAuthProviderOptions; expect: Partial<ReturnType<typeof planProvider>> }[] = [
    { name: 'google is OpenID Connect by discovery', given: provider({ name: 'google' }), expect: { kind: 'oidc', discoveryUrl: 'https://accounts.google.com', displayName: 'Google', profile: 'oidc', scopes: ['openid', 'email', 'profile'] } },
    { name: 'microsoft never trusts the email claim', given: provider({ name: 'microsoft' }), expect: { kind: 'oidc', discoveryUrl: 'https://login.microsoftonline.com/common/v2.0', profile: 'oidc-unverified-email' } },
    { name: 'apple posts its answer (form_post)', given: provider({ name: 'apple' }), expect: { kind: 'oidc', discoveryUrl: 'https://appleid.apple.com', authParams: { response_mode: 'form_post' } } },
    { name: 'gitlab is OpenID Connect', given: provider({ name: 'gitlab' }), expect: { kind: 'oidc', discoveryUrl: 'https://gitlab.com' } },
    { name: 'github is OAuth 2.0 with its own profile reader', given: provider({ name: 'github' }), expect: { kind: 'oauth2', profile: 'github', tokenURL: 'https://github.com/login/oauth/access_token', scopes: ['read:user', 'user:email'] } },
    { name: 'discord is OAuth 2.0 with its own profile reader', given: provider({ name: 'discord' }), expect: { kind: 'oauth2', profile: 'discord', userInfoURL: 'https://discord.com/api/users/@me' } },
    { name: 'extra scopes add to the preset\'s', given: provider({ name: 'google', scopes: ['https://www.googleapis.com/auth/calendar.readonly', 'email'] }), expect: { scopes: ['openid', 'email', 'profile', 'https://www.googleapis.com/auth/calendar.readonly'] } },
    { name: 'a preset name with its own discovery URL uses it', given: provider({ name: 'microsoft', discoveryUrl: 'https://login.microsoftonline.com/contoso/v2.0' }), expect: { kind: 'oidc', discoveryUrl: 'https://login.microsoftonline.com/contoso/v2.0', profile: 'oidc-unverified-email' } },
    { name: 'GitHub Enterprise: own endpoints keep the GitHub reader', given: provider({ name: 'github', authURL: 'https://ghe.example/login/oauth/authorize', tokenURL: 'https://ghe.example/login/oauth/access_token', userInfoURL: 'https://ghe.example/api/v3/user' }), expect: { kind: 'oauth2', profile: 'github', userInfoURL: 'https://ghe.example/api/v3/user' } },
    { name: 'any name with a discovery URL is OpenID Connect', given: provider({ name: 'keycloak', displayName: 'Company SSO', discoveryUrl: 'https://sso.example/realms/main' }), expect: { kind: 'oidc', profile: 'oidc', displayName: 'Company SSO', scopes: ['openid', 'email', 'profile'] } },
    { name: 'pkce is on unless turned off', given: provider({ name: 'google', pkce: false }), expect: { pkce: false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planProvider(c.given);
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(plan[k as keyof typeof plan], v, k);
      assert.equal(plan.pkce, c.given.pkce !== false);
    });
  }

  it('a provider without a preset needs a discovery URL or all three OAuth 2.0 URLs', () => {
    assert.throws(() => planProvider(provider({ name: 'mystery' })), { code: 'oauth_provider_error' });
    assert.throws(() => planProvider(provider({ name: 'mystery', authURL: 'https://a.example/auth', tokenURL: 'https://a.example/token' })), { code: 'oauth_provider_error' });
    assert.equal(planProvider(provider({ name: 'mystery', authURL: 'https://a.example/auth', tokenURL: 'https://a.example/token', userInfoURL: 'https://a.example/me' })).profile, 'oauth2');
  });

  it('plain http is only for loopback addresses', () => {
    for (const u of ['http://localhost:8080', 'http://127.0.0.1:1/x', 'http://[::1]:9000', 'http://idp.localhost']) assert.equal(isLoopbackHttp(u), true, u);
    for (const u of ['https://localhost', 'http://example.com', 'http://127.0.0.2', 'http://localhost.evil.example', 'not a url']) assert.equal(isLoopbackHttp(u), false, u);
  });
});

describe('OAuth2 profiles: when is an email verified', () => {
  const cases: { name: string; user: ReturnType<typeof profileFromOidc>; email: string; verified: boolean }[] = [
    { name: 'OIDC email_verified true', user: profileFromOidc({ sub: 's' }, { sub: 's', email: 'a@x.io', email_verified: true }, 'oidc'), email: 'a@x.io', verified: true },
    { name: 'OIDC email_verified "true" (Apple)', user: profileFromOidc({ sub: 's', email: 'a@x.io', email_verified: 'true' }, undefined, 'oidc'), email: 'a@x.io', verified: true },
    { name: 'OIDC email_verified false', user: profileFromOidc({ sub: 's' }, { sub: 's', email: 'a@x.io', email_verified: false }, 'oidc'), email: 'a@x.io', verified: false },
    { name: 'OIDC without email_verified', user: profileFromOidc({ sub: 's', email: 'a@x.io' }, undefined, 'oidc'), email: 'a@x.io', verified: false },
    { name: 'Microsoft even with email_verified', user: profileFromOidc({ sub: 's', email: 'a@x.io', email_verified: true }, undefined, 'oidc-unverified-email'), email: 'a@x.io', verified: false },
    { name: 'GitHub primary verified address', user: profileFromGithub({ id: 7, login: 'octo', email: 'public@x.io' }, [{ email: 'other@x.io', primary: false, verified: true }, { email: 'main@x.io', primary: true, verified: true }]), email: 'main@x.io', verified: true },
    { name: 'GitHub primary unverified: public email, unverified', user: profileFromGithub({ id: 7, email: 'public@x.io' }, [{ email: 'main@x.io', primary: true, verified: false }]), email: 'public@x.io', verified: false },
    { name: 'GitHub emails unavailable', user: profileFromGithub({ id: 7, email: null }, []), email: '', verified: false },
    { name: 'Discord verified', user: profileFromDiscord({ id: '9', username: 'd', email: 'd@x.io', verified: true }), email: 'd@x.io', verified: true },
    { name: 'Discord unverified', user: profileFromDiscord({ id: '9', username: 'd', email: 'd@x.io', verified: false }), email: 'd@x.io', verified: false },
    { name: 'Discord without verified', user: profileFromDiscord({ id: '9', username: 'd', email: 'd@x.io' }), email: 'd@x.io', verified: false },
    { name: 'Discord verified "true" (a string) is not the documented boolean', user: profileFromDiscord({ id: '9', username: 'd', email: 'd@x.io', verified: 'true' }), email: 'd@x.io', verified: false },
    { name: 'GitHub verified but not primary: the public email, unverified', user: profileFromGithub({ id: 7, email: 'public@x.io' }, [{ email: 'other@x.io', primary: false, verified: true }]), email: 'public@x.io', verified: false },
    { name: 'generic email_verified', user: profileFromOAuth2({ id: 3, email: 'g@x.io', email_verified: true }), email: 'g@x.io', verified: true },
    // oauth2-generic-verified-flag: a bare `verified` means whatever the provider means by it (an account,
    // a phone, a badge); only OpenID Connect's `email_verified` vouches for the email of a generic provider.
    { name: 'oauth2-generic-verified-flag: generic `verified: true` is not a verified email', user: profileFromOAuth2({ id: 3, email: 'g@x.io', verified: true }), email: 'g@x.io', verified: false },
    { name: 'generic email_verified false beats verified true', user: profileFromOAuth2({ id: 3, email: 'g@x.io', email_verified: false, verified: true }), email: 'g@x.io', verified: false },
    { name: 'generic email_verified "yes" is not true', user: profileFromOAuth2({ id: 3, email: 'g@x.io', email_verified: 'yes' }), email: 'g@x.io', verified: false },
    { name: 'generic without a flag', user: profileFromOAuth2({ id: 3, email: 'g@x.io' }), email: 'g@x.io', verified: false },
    { name: 'verified flag without an email', user: profileFromOAuth2({ id: 3, email_verified: true }), email: '', verified: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(c.user.email, c.email);
      assert.equal(c.user.emailVerified, c.verified);
    });
  }

  it('ids, names and avatars are read per provider; protocol claims stay out of rawUser', () => {
    const oidc = profileFromOidc({ sub: 'abc', nonce: 'n', at_hash: 'h', iss: 'https://i', name: 'Ann', picture: 'https://p/a.png' }, undefined, 'oidc');
    assert.equal(oidc.id, 'abc');
    assert.equal(oidc.name, 'Ann');
    assert.equal(oidc.avatarURL, 'https://p/a.png');
    assert.deepEqual(Object.keys(oidc.rawUser).sort(), ['name', 'picture', 'sub']);
    const gh = profileFromGithub({ id: 42, login: 'octo', name: 'Octo Cat', avatar_url: 'https://a/42' }, []);
    assert.deepEqual([gh.id, gh.username, gh.name, gh.avatarURL], ['42', 'octo', 'Octo Cat', 'https://a/42']);
    const dc = profileFromDiscord({ id: '80', username: 'nelly', global_name: 'Nelly', avatar: 'abc' });
    assert.deepEqual([dc.id, dc.name, dc.avatarURL], ['80', 'Nelly', 'https://cdn.discordapp.com/avatars/80/abc.png']);
  });
});
