/**
 * The error catalogue: every error Basalt returns to a client has a stable `code`, an HTTP status
 * and a message. Surfaces serialise a {@link BasaltError} as RFC 9457 problem+json that also carries
 * PocketBase's `status`, `message` and `data` members. Internal causes are kept in `cause` for logs
 * and never serialised.
 */

/** Per-field validation failures, PocketBase style: `{ title: { code, message } }`. */
export type FieldErrors = Record<string, { code: string; message: string }>;

/** The catalogue: code → HTTP status and default message. */
export const errorCatalogue = {
  bad_request: { status: 400, message: 'Something went wrong while processing your request.' },
  json_invalid: { status: 400, message: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, message: 'Failed to validate the submitted data.' },
  filter_invalid: { status: 400, message: 'Invalid filter expression.' },
  sort_invalid: { status: 400, message: 'Invalid sort expression.' },
  // Rule language (rules/, docs/rules.md): a client filter over its join/cost budget.
  filter_too_expensive: { status: 400, message: 'The filter joins too many records; use fewer @collection references or relation paths.' },
  expand_invalid: { status: 400, message: 'Invalid expand expression.' },
  cursor_invalid: { status: 400, message: 'Invalid or expired cursor.' },
  id_invalid: { status: 400, message: 'Invalid record id.' },
  collection_invalid: { status: 400, message: 'Invalid collection definition.' },
  batch_invalid: { status: 400, message: 'Invalid batch request.' },
  batch_failed: { status: 400, message: 'Batch transaction failed.' },
  unauthorized: { status: 401, message: 'The request requires valid authorization.' },
  token_invalid: { status: 401, message: 'The authorization token is invalid or expired.' },
  // PocketBase's MFA answer: the first factor is proven; sign in again with another method and `mfaId`.
  mfa_required: { status: 401, message: 'Sign in with a second, different method and this mfaId to finish.' },
  mfa_invalid: { status: 400, message: 'The MFA session is invalid, expired, of another record, or needs a different method.' },
  auth_failed: { status: 400, message: 'Failed to authenticate.' },
  // OAuth2 / OpenID Connect sign-in (auth/oauth, docs/oauth.md).
  oauth_disabled: { status: 403, message: 'The collection is not configured to allow OAuth2 authentication.' },
  oauth_provider_unknown: { status: 400, message: 'The OAuth2 provider is missing or is not enabled for this collection.' },
  oauth_state_invalid: { status: 400, message: 'The OAuth2 sign-in flow is unknown, expired, already used, or does not match; start the sign-in again.' },
  oauth_code_invalid: { status: 400, message: 'The provider refused the authorization code: it is invalid, expired, already used, or was issued for another redirect URI or verifier.' },
  oauth_redirect_mismatch: { status: 400, message: 'The redirect URL differs from the one the sign-in flow was started with.' },
  oauth_id_token_invalid: { status: 400, message: 'The provider\'s ID token failed validation (nonce, issuer, audience or expiry).' },
  oauth_email_missing: { status: 400, message: 'The provider shared no email address; allow access to the email address and try again.' },
  oauth_link_refused: { status: 400, message: 'An account with this email address already exists. Sign in to it with your password, then link this provider from the account.' },
  oauth_identity_taken: { status: 409, message: 'This provider account is already linked to another account.' },
  oauth_provider_error: { status: 502, message: 'The OAuth2 provider could not be reached or answered unexpectedly.' },
  forbidden: { status: 403, message: 'You are not allowed to perform this request.' },
  // Sensitive account changes need a recent sign-in or a fresh password/code in the request.
  reauthentication_required: { status: 403, message: 'Sign in again, or confirm with your password or a current authenticator code.' },
  // Changing the factors of an account that has a second factor needs that factor, not the password (docs/mfa.md).
  factor_proof_required: { status: 403, message: 'This account has a second factor: confirm the change with a current authenticator code, a recovery code or a passkey.' },
  superuser_required: { status: 403, message: 'Only superusers can perform this action.' },
  rule_denied: { status: 403, message: 'The access rule denied this request.' },
  // PocketBase answers a failed create rule with 400 "Failed to create record."; we keep its status.
  record_create_denied: { status: 400, message: 'Failed to create record.' },
  not_found: { status: 404, message: 'The requested resource wasn\'t found.' },
  collection_not_found: { status: 404, message: 'The requested collection wasn\'t found.' },
  record_not_found: { status: 404, message: 'The requested resource wasn\'t found.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  not_acceptable: { status: 406, message: 'Not acceptable.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  record_exists: { status: 409, message: 'A record with this id already exists.' },
  idempotency_in_flight: { status: 409, message: 'A request with this Idempotency-Key is still being processed.' },
  precondition_failed: { status: 412, message: 'Precondition failed.' },
  body_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was used with a different request.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  internal: { status: 500, message: 'Something went wrong while processing your request.' },
  // A stored encrypted value does not open: its master key is not configured, or the value was altered.
  secret_unreadable: { status: 500, message: 'A stored secret cannot be decrypted; check the configured encryption keys.' },
  unavailable: { status: 503, message: 'The service is not available.' },
  // Auth email flows (docs/auth-email.md). The same answers for known and unknown addresses.
  mail_unavailable: { status: 503, message: 'Sending email is not configured on this server.' },
  email_token_invalid: { status: 400, message: 'The token is invalid, expired or already used.' },
  otp_disabled: { status: 403, message: 'The collection is not configured to allow OTP authentication.' },
  otp_invalid: { status: 400, message: 'Invalid or expired OTP.' },
  // Operations (metrics access, docs/operations.md).
  metrics_unauthorized: { status: 401, message: 'The metrics need the metrics bearer token.' },
  // Input limits of the record write path and body/URL parsing (docs/records-api.md "Bad input"):
  // checked where input is decoded, before it can reach SQL or a recursive consumer.
  json_too_deep: { status: 400, message: 'The JSON is nested too deeply (at most 64 levels).' },
  url_invalid: { status: 400, message: 'The URL contains a NUL character (%00), which is not accepted.' },
  // Identity hardening (auth ids, password sign-in options; docs/access-control.md).
  auth_id_not_allowed: { status: 400, message: 'The id of an auth record is chosen by the server; leave "id" out of the sign-up.' },
  password_auth_disabled: { status: 403, message: 'The collection is not configured to allow password authentication.' },
  // Bounded reads (db/, docs/operations.md): a list query whose filter or rules cost too much is stopped.
  query_timeout: { status: 400, message: 'The query took too long and was cancelled; narrow the filter or ask for fewer records.' },
  database_busy: { status: 503, message: 'The database is busy with other queries; try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof errorCatalogue;

/**
 * An error meant for a client. Throw it anywhere below the API surface; the surface maps it to
 * problem+json.
 *
 * @example
 * throw new BasaltError('record_not_found');
 * throw new BasaltError('validation_failed', { data: { title: { code: 'validation_required', message: 'Cannot be blank.' } } });
 */
export class BasaltError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly data: FieldErrors | Record<string, unknown>;
  /** RFC 9457 extension members sent at the top level of the problem (e.g. PocketBase's `mfaId`). */
  readonly extensions: Record<string, unknown>;

  constructor(code: ErrorCode, options: { message?: string; data?: FieldErrors | Record<string, unknown>; cause?: unknown; extensions?: Record<string, unknown> } = {}) {
    super(options.message ?? errorCatalogue[code].message, { cause: options.cause });
    this.name = 'BasaltError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.data = options.data ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** True when `e` is a {@link BasaltError}. */
export function isBasaltError(e: unknown): e is BasaltError {
  return e instanceof BasaltError;
}

/** Shorthand for a `validation_failed` error about one field. */
export function fieldError(field: string, code: string, message: string): BasaltError {
  return new BasaltError('validation_failed', { data: { [field]: { code, message } } });
}
