/**
 * OAuth 2.0 / OpenID Connect sign-in (docs/oauth.md): providers by discovery URL or preset,
 * authorization code + PKCE (S256), `state` and `nonce` kept in server-side single-use flows,
 * `openid-client` as the client, identities linked by the rules of PocketBase's advisories.
 */
export { OAuthService, OAuthRefusal, checkRedirectURL, type AuthMethodsProvider, type OAuthMeta, type OAuthSignIn, type OAuthSignInInput, type IdentityInfo } from './oauth-service.ts';
export { OAuthFlows, FLOW_TTL_SECONDS, s256, type NewFlow, type FlowRow } from './oauth-flows.ts';
export { OAuthIdentities, identityTokenAad, type Identity, type ProviderTokens } from './oauth-identities.ts';
export { ProviderResolver, ResolvedProvider, planProvider, isLoopbackHttp, PROVIDER_TIMEOUT_SECONDS } from './oauth-provider.ts';
export { PROVIDER_PRESETS, DEFAULT_OIDC_SCOPES, presetOf, type ProviderPreset, type ProfileKind } from './oauth-presets.ts';
export type { OAuthUser } from './oauth-profile.ts';
export { OAuthClientSecrets, sealClientSecrets, clientSecretAad } from './oauth-client-secrets.ts';
