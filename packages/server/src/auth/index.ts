/**
 * Identity: password sign-in, access tokens (ES256 JWT via `jose`) and principal resolution.
 */
export { AuthService, type AuthResult, type ClientInfo, type SignInEvent, type SignInOptions } from './auth-service.ts';
export { TokenService, tokenKeyHash, type AccessClaims } from './auth-tokens.ts';
export { loadTokenKeys, rotateTokenKeys, type TokenKeys, type TokenKey } from './token-keys.ts';
export { RefreshTokens, loadRefreshSecret, type RefreshGrant, type SessionInfo } from './refresh-tokens.ts';
