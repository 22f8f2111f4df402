/**
 * Identity: password sign-in, access tokens (ES256 JWT via `jose`) and principal resolution.
 */
export { AuthService, type AuthResult, type ClientInfo, type SignInEvent, type SignInOptions } from './auth-service.ts';
export { TokenService, tokenKeyHash, type AccessClaims } from './auth-tokens.ts';
export { loadTokenKeys, rotateTokenKeys, type TokenKeys, type TokenKey } from './token-keys.ts';
export { RefreshTokens, SESSION_LIVE_TTL_MS, loadRefreshSecret, type RefreshGrant, type SessionInfo } from './refresh-tokens.ts';
export { AuthEmailFlows, type AuthEmailOptions, type PasswordAttemptGuard } from './auth-email-flows.ts';
export { EmailTokens, type EmailTokenGrant, type EmailTokenPurpose } from './email-tokens.ts';
export { OtpCodes, OTP_MAX_ATTEMPTS, otpCode, type OtpGrant } from './otp-codes.ts';
export { RoleDirectory, type Grants } from './roles.ts';
export { ApiKeys, API_KEY_DEFAULT_DAYS, API_KEY_MAX_DAYS, type ApiKeyInfo, type NewApiKey } from './api-keys.ts';
export { MfaChallenges, MfaFactors, passkeySettings, type MfaStatus, type PasskeyInfo, type PasskeySettings } from './mfa/index.ts';
