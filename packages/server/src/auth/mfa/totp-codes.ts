/**
 * RFC 6238 time-based one-time passwords, computed by `otplib`. Basalt's authenticator-app setting is
 * SHA-1, 6 digits, 30-second steps (what Google Authenticator, Authy, 1Password… accept from a QR
 * code); the other parameters exist for the RFC's test vectors, which run through these functions.
 */
import { generate, generateSecret, generateURI, verify } from 'otplib';

/** HMAC hash of a TOTP. */
export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** How codes are derived from a secret. */
export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: number;
  /** Time step, seconds. */
  period: number;
}

/** The setting every authenticator app understands. */
export const AUTHENTICATOR_APP: TotpParams = Object.freeze({ algorithm: 'sha1', digits: 6, period: 30 });

/** A secret: raw bytes (the RFC's seeds), or Base32 text as authenticator apps take it. */
export type TotpSecret = Uint8Array | string;

/** A new random secret, Base32, 20 bytes (160 bits, RFC 4226's recommended length for SHA-1). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The code of `secret` at `epochSeconds`. */
export async function totpCode(secret: TotpSecret, epochSeconds: number, params: TotpParams = AUTHENTICATOR_APP): Promise<string> {
  return generate({ secret, epoch: epochSeconds, algorithm: params.algorithm, digits: params.digits, period: params.period });
}

/** The time step (RFC 6238's T) that `epochSeconds` falls in. */
export function timeStep(epochSeconds: number, params: TotpParams = AUTHENTICATOR_APP): number {
  return Math.floor(epochSeconds / params.period);
}

/**
 * The time step whose code `code` is, within `window` steps before or after the one of `epochSeconds`
 * (clock drift and typing time); undefined when it matches none. Comparison is constant-time (otplib).
 * The caller must still refuse a step it has accepted before (see TotpFactor).
 */
export async function totpMatch(secret: TotpSecret, code: unknown, epochSeconds: number, params: TotpParams = AUTHENTICATOR_APP, window = 1): Promise<number | undefined> {
  if (typeof code !== 'string') return undefined;
  const token = code.replace(/\s+/g, '');
  if (!new RegExp(`^\\d{${params.digits}}$`).test(token)) return undefined;
  try {
    const r = await verify({ secret, token, epoch: epochSeconds, epochTolerance: window * params.period, algorithm: params.algorithm, digits: params.digits, period: params.period });
    return r.valid && 'timeStep' in r ? r.timeStep : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` URI an authenticator app reads from a QR
 * code (Google's Key Uri Format).
 */
export function otpauthUri(issuer: string, account: string, secret: string): string {
  return generateURI({ issuer, label: account, secret, algorithm: AUTHENTICATOR_APP.algorithm, digits: AUTHENTICATOR_APP.digits, period: AUTHENTICATOR_APP.period });
}
