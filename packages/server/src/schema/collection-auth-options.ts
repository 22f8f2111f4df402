/**
 * The options of an auth collection, in PocketBase's (v0.23+) collection JSON shape, plus Basalt's
 * additions (OIDC discovery, TOTP, passkeys). Validated and filled with defaults here, so every
 * module reads one typed, complete object.
 */
import { BasaltError, type FieldErrors } from '../errors/index.ts';

/** An email's subject and body; `{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`… are placeholders. */
export interface EmailTemplate {
  subject: string;
  body: string;
}

/**
 * One OAuth 2.0 / OpenID Connect provider. `discoveryUrl` (Basalt) is the issuer or its
 * `/.well-known/openid-configuration`; the PocketBase URLs (`authURL`, `tokenURL`, `userInfoURL`)
 * configure a plain OAuth 2.0 provider. `name` is a preset (`google`, `github`, …) or any name
 * with a discovery URL.
 */
export interface OAuthProviderOptions {
  name: string;
  displayName: string;
  clientId: string;
  /** Stored encrypted; answered to nobody (the collections API shows it as empty). */
  clientSecret: string;
  discoveryUrl: string;
  authURL: string;
  tokenURL: string;
  userInfoURL: string;
  /** PKCE (S256); `null` = the provider's default (always on for OIDC). */
  pkce: boolean | null;
  /** Extra scopes beyond the preset's. */
  scopes: string[];
}

/** Everything an auth collection can configure besides its fields and rules. */
export interface AuthOptions {
  passwordAuth: { enabled: boolean; identityFields: string[] };
  oauth2: {
    enabled: boolean;
    /** Which provider profile values fill which record fields on sign-up (`name`, `avatarURL`, …). */
    mappedFields: Record<string, string>;
    providers: OAuthProviderOptions[];
  };
  /** Multi-factor: when enabled, a sign-in needs a second factor (for records matching `rule`, `""` = all). */
  mfa: { enabled: boolean; duration: number; rule: string };
  /** One-time passwords by email (`request-otp` / `auth-with-otp`). */
  otp: { enabled: boolean; duration: number; length: number; emailTemplate: EmailTemplate };
  /** Basalt: TOTP authenticator apps as a second factor. */
  totp: { enabled: boolean; issuer: string };
  /** Basalt: WebAuthn passkeys, as a second factor and for passwordless sign-in. */
  passkeys: { enabled: boolean; rpName: string; rpId: string; origins: string[] };
  /** Mail a notice when an account signs in from a new device. */
  authAlert: { enabled: boolean; emailTemplate: EmailTemplate };
  /** Lifetime of access tokens, seconds; 0 = the server's default (`tokenTtlSeconds`). */
  authToken: { duration: number };
  passwordResetToken: { duration: number };
  emailChangeToken: { duration: number };
  verificationToken: { duration: number };
  fileToken: { duration: number };
  verificationTemplate: EmailTemplate;
  resetPasswordTemplate: EmailTemplate;
  confirmEmailChangeTemplate: EmailTemplate;
}

/** The collection members this file owns. */
export const AUTH_OPTION_KEYS = [
  'passwordAuth', 'oauth2', 'mfa', 'otp', 'totp', 'passkeys', 'authAlert', 'authToken', 'passwordResetToken',
  'emailChangeToken', 'verificationToken', 'fileToken', 'verificationTemplate', 'resetPasswordTemplate', 'confirmEmailChangeTemplate',
] as const;

/** The defaults of a new auth collection (PocketBase's, where it has them). */
export function defaultAuthOptions(): AuthOptions {
  return {
    passwordAuth: { enabled: true, identityFields: ['email'] },
    oauth2: { enabled: false, mappedFields: {}, providers: [] },
    mfa: { enabled: false, duration: 1800, rule: '' },
    otp: {
      enabled: false, duration: 180, length: 8,
      emailTemplate: { subject: 'OTP for {APP_NAME}', body: 'Your one-time password is {OTP}. It is valid for a few minutes.\n\nIf you did not ask for it, you can ignore this email.' },
    },
    totp: { enabled: false, issuer: 'Basalt' },
    passkeys: { enabled: false, rpName: 'Basalt', rpId: '', origins: [] },
    authAlert: {
      enabled: true,
      emailTemplate: { subject: 'Sign-in from a new device', body: 'We noticed a sign-in to your {APP_NAME} account from a new device ({DEVICE}).\n\nIf this was not you, change your password at once.' },
    },
    // 0: the server's tokenTtlSeconds (a collection that sets none keeps the global default).
    authToken: { duration: 0 },
    passwordResetToken: { duration: 1800 },
    emailChangeToken: { duration: 1800 },
    verificationToken: { duration: 259200 },
    fileToken: { duration: 180 },
    verificationTemplate: { subject: 'Verify your {APP_NAME} email', body: 'Open this link to verify your email address:\n\n{APP_URL}/_/#/auth/confirm-verification/{TOKEN}\n\nThe token: {TOKEN}' },
    resetPasswordTemplate: { subject: 'Reset your {APP_NAME} password', body: 'Open this link to choose a new password:\n\n{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}\n\nThe token: {TOKEN}\n\nIf you did not ask for it, you can ignore this email.' },
    confirmEmailChangeTemplate: { subject: 'Confirm your new {APP_NAME} email', body: 'Open this link to confirm your new email address:\n\n{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}\n\nThe token: {TOKEN}' },
  };
}

const PROVIDER_KEYS = new Set(['name', 'displayName', 'clientId', 'clientSecret', 'discoveryUrl', 'authURL', 'tokenURL', 'userInfoURL', 'pkce', 'scopes', 'extra']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validate the auth options of a collection body over the existing (or default) options. Members
 * absent from the body keep their value; an object member is merged one level deep, as PocketBase does.
 * Throws `collection_invalid` with per-member problems.
 */
export function normalizeAuthOptions(body: Record<string, unknown>, existing: AuthOptions | undefined, fieldNames: ReadonlySet<string>, identityCandidates: ReadonlySet<string> = new Set(['email'])): AuthOptions {
  const out = structuredClone(existing ?? defaultAuthOptions());
  const errors: FieldErrors = {};
  const bad = (path: string, message: string): void => {
    errors[path] ??= { code: 'validation_invalid_value', message };
  };
  const bool = (path: string, v: unknown, set: (b: boolean) => void): void => {
    if (v === undefined) return;
    if (typeof v !== 'boolean') bad(path, 'Must be true or false.');
    else set(v);
  };
  const seconds = (path: string, v: unknown, min: number, max: number, set: (n: number) => void): void => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(path, `Must be a whole number of seconds between ${min} and ${max}.`);
    else set(v);
  };
  const text = (path: string, v: unknown, max: number, set: (s: string) => void): void => {
    if (v === undefined) return;
    if (typeof v !== 'string' || v.length > max) bad(path, `Must be a string of at most ${max} characters.`);
    else set(v);
  };
  const template = (path: string, v: unknown, t: EmailTemplate): void => {
    if (v === undefined) return;
    if (!isPlainObject(v)) return bad(path, 'Must be an object {subject, body}.');
    text(`${path}.subject`, v.subject, 500, (s) => (t.subject = s));
    text(`${path}.body`, v.body, 20_000, (s) => (t.body = s));
  };
  const object = (key: string): Record<string, unknown> | undefined => {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) {
      bad(key, 'Must be an object.');
      return undefined;
    }
    return v;
  };

  const pa = object('passwordAuth');
  if (pa) {
    bool('passwordAuth.enabled', pa.enabled, (b) => (out.passwordAuth.enabled = b));
    if (pa.identityFields !== undefined) {
      const ids = pa.identityFields;
      if (!Array.isArray(ids) || ids.length === 0 || ids.some((f) => typeof f !== 'string' || !fieldNames.has(f))) bad('passwordAuth.identityFields', 'Must list existing fields (e.g. ["email"]).');
      else out.passwordAuth.identityFields = [...new Set(ids as string[])];
    }
  }
  // Honoured at sign-in, so each must name one record at most: the email, or a unique text field
  // (PocketBase requires a unique index too). Checked on every change: a field that lost its
  // uniqueness (or was removed) cannot silently stay an identity.
  const notIdentity = out.passwordAuth.identityFields.filter((f) => !identityCandidates.has(f));
  if (notIdentity.length) bad('passwordAuth.identityFields', `Identity fields must be "email" or unique text fields; not: ${notIdentity.join(', ')}.`);

  const oa = object('oauth2');
  if (oa) {
    bool('oauth2.enabled', oa.enabled, (b) => (out.oauth2.enabled = b));
    if (oa.mappedFields !== undefined) {
      if (!isPlainObject(oa.mappedFields)) bad('oauth2.mappedFields', 'Must be an object of profile value → field name.');
      else {
        const mapped: Record<string, string> = {};
        for (const [k, v] of Object.entries(oa.mappedFields)) {
          if (typeof v !== 'string') bad(`oauth2.mappedFields.${k}`, 'Must be a field name.');
          else if (v !== '' && !fieldNames.has(v)) bad(`oauth2.mappedFields.${k}`, `"${v}" is not a field.`);
          else if (v !== '') mapped[k] = v;
        }
        out.oauth2.mappedFields = mapped;
      }
    }
    if (oa.providers !== undefined) {
      if (!Array.isArray(oa.providers) || oa.providers.length > 50) bad('oauth2.providers', 'Must be a list of at most 50 providers.');
      else {
        const prior = new Map(out.oauth2.providers.map((p) => [p.name, p]));
        const names = new Set<string>();
        out.oauth2.providers = [];
        oa.providers.forEach((raw: unknown, i: number) => {
          const at = `oauth2.providers.${i}`;
          if (!isPlainObject(raw)) return bad(at, 'Must be an object.');
          for (const k of Object.keys(raw)) if (!PROVIDER_KEYS.has(k)) bad(`${at}.${k}`, `Unknown provider member "${k}".`);
          const name = raw.name;
          if (typeof name !== 'string' || !/^[a-z0-9_-]{1,40}$/.test(name)) return bad(`${at}.name`, 'A provider name is 1–40 characters of a-z, 0-9, "_" and "-".');
          if (names.has(name)) return bad(`${at}.name`, `Duplicate provider "${name}".`);
          names.add(name);
          const p: OAuthProviderOptions = prior.get(name) ?? { name, displayName: '', clientId: '', clientSecret: '', discoveryUrl: '', authURL: '', tokenURL: '', userInfoURL: '', pkce: null, scopes: [] };
          text(`${at}.displayName`, raw.displayName, 100, (s) => (p.displayName = s));
          text(`${at}.clientId`, raw.clientId, 1000, (s) => (p.clientId = s));
          // An empty secret in a body is how the collections API shows it: keep the stored one.
          text(`${at}.clientSecret`, raw.clientSecret, 4000, (s) => (p.clientSecret = s || p.clientSecret));
          for (const k of ['discoveryUrl', 'authURL', 'tokenURL', 'userInfoURL'] as const) {
            text(`${at}.${k}`, raw[k], 2000, (s) => {
              if (s !== '' && !/^https?:\/\/[^\s]+$/.test(s)) bad(`${at}.${k}`, 'Must be an http(s) URL.');
              else p[k] = s;
            });
          }
          if (raw.pkce !== undefined && raw.pkce !== null && typeof raw.pkce !== 'boolean') bad(`${at}.pkce`, 'Must be true, false or null.');
          else if (raw.pkce !== undefined) p.pkce = raw.pkce as boolean | null;
          if (raw.scopes !== undefined) {
            if (!Array.isArray(raw.scopes) || raw.scopes.some((s) => typeof s !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(s))) bad(`${at}.scopes`, 'Must be a list of scope names.');
            else p.scopes = raw.scopes as string[];
          }
          if (!p.clientId) bad(`${at}.clientId`, 'Cannot be blank.');
          out.oauth2.providers.push(p);
        });
      }
    }
  }

  const mfa = object('mfa');
  if (mfa) {
    bool('mfa.enabled', mfa.enabled, (b) => (out.mfa.enabled = b));
    seconds('mfa.duration', mfa.duration, 10, 86400, (n) => (out.mfa.duration = n));
    text('mfa.rule', mfa.rule, 3500, (s) => (out.mfa.rule = s));
  }

  const otp = object('otp');
  if (otp) {
    bool('otp.enabled', otp.enabled, (b) => (out.otp.enabled = b));
    seconds('otp.duration', otp.duration, 10, 86400, (n) => (out.otp.duration = n));
    if (otp.length !== undefined) {
      if (typeof otp.length !== 'number' || !Number.isInteger(otp.length) || otp.length < 6 || otp.length > 20) bad('otp.length', 'Must be a whole number between 6 and 20.');
      else out.otp.length = otp.length;
    }
    template('otp.emailTemplate', otp.emailTemplate, out.otp.emailTemplate);
  }

  const totp = object('totp');
  if (totp) {
    bool('totp.enabled', totp.enabled, (b) => (out.totp.enabled = b));
    text('totp.issuer', totp.issuer, 100, (s) => (out.totp.issuer = s));
  }

  const pk = object('passkeys');
  if (pk) {
    bool('passkeys.enabled', pk.enabled, (b) => (out.passkeys.enabled = b));
    text('passkeys.rpName', pk.rpName, 100, (s) => (out.passkeys.rpName = s));
    text('passkeys.rpId', pk.rpId, 253, (s) => {
      if (s !== '' && !/^[a-z0-9.-]+$/.test(s)) bad('passkeys.rpId', 'Must be a host name (e.g. example.com).');
      else out.passkeys.rpId = s;
    });
    if (pk.origins !== undefined) {
      if (!Array.isArray(pk.origins) || pk.origins.some((o) => typeof o !== 'string' || !/^https?:\/\/[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(o))) bad('passkeys.origins', 'Must be a list of origins like https://app.example.com.');
      else out.passkeys.origins = pk.origins as string[];
    }
  }

  const alert = object('authAlert');
  if (alert) {
    bool('authAlert.enabled', alert.enabled, (b) => (out.authAlert.enabled = b));
    template('authAlert.emailTemplate', alert.emailTemplate, out.authAlert.emailTemplate);
  }

  // authToken: 0 (the server's TTL) or 60 s to 30 days.
  const o = object('authToken');
  if (o && o.duration !== 0) seconds('authToken.duration', o.duration, 60, 2592000, (n) => (out.authToken.duration = n));
  else if (o) out.authToken.duration = 0;
  const durations = { passwordResetToken: [60, 604800], emailChangeToken: [60, 604800], verificationToken: [60, 2592000], fileToken: [10, 86400] } as const;
  for (const [key, [min, max]] of Object.entries(durations) as [keyof typeof durations, readonly [number, number]][]) {
    const o = object(key);
    if (o) seconds(`${key}.duration`, o.duration, min, max, (n) => (out[key].duration = n));
  }
  for (const key of ['verificationTemplate', 'resetPasswordTemplate', 'confirmEmailChangeTemplate'] as const) template(key, body[key], out[key]);

  if (Object.keys(errors).length) throw new BasaltError('collection_invalid', { data: errors });
  return out;
}

/** The options as the collections API answers them: provider client secrets are never sent back. */
export function publicAuthOptions(o: AuthOptions): AuthOptions {
  return { ...o, oauth2: { ...o.oauth2, providers: o.oauth2.providers.map((p) => ({ ...p, clientSecret: '' })) } };
}
