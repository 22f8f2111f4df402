/**
 * Multi-factor authentication: the MFA policy of sign-ins (PocketBase's `mfaId` flow), TOTP (RFC 6238)
 * with single-use codes, recovery codes, and WebAuthn passkeys (second factor and passwordless).
 */
export { MfaChallenges, isMultiFactor, methodOf, type MfaChallenge, type MfaChallengeEvent } from './mfa-challenges.ts';
export { AUTHENTICATOR_APP, newTotpSecret, otpauthUri, timeStep, totpCode, totpMatch, type TotpAlgorithm, type TotpParams, type TotpSecret } from './totp-codes.ts';
export { TotpFactor, totpAad, type TotpEnrolment } from './totp-factor.ts';
export { RecoveryCodes, RECOVERY_CODE_COUNT, newRecoveryCode, normalizeRecoveryCode } from './recovery-codes.ts';
export { Passkeys, passkeySettings, CHALLENGE_TTL_MS, MAX_PASSKEYS, PASSKEY_ALGORITHMS, type PasskeyInfo, type PasskeyProof, type PasskeySettings } from './passkey-factor.ts';
export { MfaFactors, type MfaStatus } from './mfa-factors.ts';
