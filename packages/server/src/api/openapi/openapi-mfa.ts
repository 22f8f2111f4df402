/**
 * OpenAPI paths of an auth collection's multi-factor endpoints (docs/mfa.md): TOTP, recovery codes,
 * passkeys, and the second-factor / passwordless sign-ins.
 */

const AUTH_REQUIRED = [{ authToken: [] }];
const AUTH_OPTIONAL = [{}, { authToken: [] }];
const ERRORS: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 429: 'TooManyRequests' };

function errors(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/${ERRORS[s]}` }]));
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, ...(required.length ? { required } : {}) });
const str = { type: 'string' };
const webauthnJson = { type: 'object', description: 'WebAuthn JSON (`PublicKeyCredential.toJSON()` / @simplewebauthn/browser): base64url members.', additionalProperties: true };
const codes = obj({ recoveryCodes: { type: 'array', items: str, minItems: 10, maxItems: 10, description: 'Shown once; each works once.' } }, ['recoveryCodes']);
// A factor change is proven with a factor when the account has one; the password only when it has none (docs/mfa.md).
const proof = obj({
  code: { type: 'string', description: 'A current TOTP code (spent).' },
  recoveryCode: { type: 'string', description: 'A recovery code (spent); for removals and regeneration only.' },
  passkey: { ...webauthnJson, description: 'An answer to `passkeys/reauth-options` from one of the account\'s passkeys.' },
  password: { type: 'string', description: 'The account password: only for an account without a second factor (else 403 `factor_proof_required`).' },
});
const passkey = obj({ id: str, name: str, created: str, lastUsed: str, transports: { type: 'array', items: str }, deviceType: { type: 'string', enum: ['singleDevice', 'multiDevice'] }, backedUp: { type: 'boolean' } }, ['id', 'name']);

/** The MFA paths of auth collection `name` (component base `base`, tag `tag`). */
export function mfaPaths(name: string, tag: string, base: string): Record<string, unknown> {
  const at = `/api/collections/${name}`;
  const own = `Signed in to \`${name}\`; acts on the caller's own account.`;
  const signedIn = { 200: { description: 'Signed in.', content: json({ $ref: `#/components/schemas/${base}AuthResponse` }) } };
  const op = (id: string, summary: string, description: string, extra: Record<string, unknown>) => ({ tags: [tag], operationId: `${id}${base}`, summary, description, ...extra });
  return {
    [`${at}/mfa`]: {
      get: op('mfaStatus', `MFA state of the caller's ${name} account`, own, {
        security: AUTH_REQUIRED,
        responses: { 200: { description: 'Enrolment state.', content: json(obj({ totp: obj({ enabled: { type: 'boolean' }, pending: { type: 'boolean' } }), recoveryCodes: obj({ remaining: { type: 'integer' } }), passkeys: { type: 'integer' } })) }, ...errors(401, 403, 404) },
      }),
    },
    [`${at}/records/{id}/mfa`]: {
      delete: op('mfaReset', `Reset the second factors of a ${name} record (superusers)`, 'Account recovery: removes the record\'s TOTP secret, recovery codes and passkeys and ends its sessions; audited as `mfa.reset`.', {
        security: AUTH_REQUIRED,
        parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
        responses: { 204: { description: 'Reset.' }, ...errors(401, 403, 404) },
      }),
    },
    [`${at}/totp/enroll`]: {
      post: op('totpEnroll', `Start TOTP enrolment (${name})`, `${own} Answers a new secret and its \`otpauth://\` URI (for a QR code), pending until confirmed. 409 when TOTP is already enabled.`, {
        security: AUTH_REQUIRED,
        responses: { 200: { description: 'The secret, shown once.', content: json(obj({ secret: str, otpauthUri: str }, ['secret', 'otpauthUri'])) }, ...errors(401, 403, 404, 409) },
      }),
    },
    [`${at}/totp/confirm`]: {
      post: op('totpConfirm', `Confirm TOTP enrolment (${name})`, `${own} A code from the app turns TOTP on and answers 10 recovery codes (the old set dies).`, {
        security: AUTH_REQUIRED, requestBody: { required: true, content: json(obj({ code: str }, ['code'])) },
        responses: { 200: { description: 'Recovery codes.', content: json(codes) }, ...errors(400, 401, 403, 404, 429) },
      }),
    },
    [`${at}/totp`]: {
      delete: op('totpRemove', `Remove TOTP (${name})`, `${own} Needs a current code, a recovery code or a passkey (the password only while the account has no usable second factor); the recovery codes go too.`, {
        security: AUTH_REQUIRED, requestBody: { required: true, content: json(proof) },
        responses: { 204: { description: 'Removed.' }, ...errors(400, 401, 403, 404, 429) },
      }),
    },
    [`${at}/recovery-codes`]: {
      post: op('recoveryCodesRegenerate', `New recovery codes (${name})`, `${own} Needs a current TOTP code, a recovery code or a passkey; the old codes die. 404 without a confirmed authenticator.`, {
        security: AUTH_REQUIRED, requestBody: { required: true, content: json(proof) },
        responses: { 200: { description: 'Recovery codes.', content: json(codes) }, ...errors(400, 401, 403, 404, 429) },
      }),
    },
    [`${at}/auth-with-totp`]: {
      post: op('authWithTotp', `Second factor for ${name}: TOTP or a recovery code`,
        'Finishes a sign-in that answered 401 `{mfaId}`: send the `mfaId` (body or query) with `code` (authenticator app) or `recoveryCode`. A code works once per time step; never a first factor. amr: first method + `otp` + `mfa`.', {
          security: AUTH_OPTIONAL,
          parameters: [{ name: 'mfaId', in: 'query', required: false, schema: str }],
          requestBody: { required: true, content: json(obj({ mfaId: str, code: str, recoveryCode: str })) },
          responses: { ...signedIn, ...errors(400, 401, 403, 404, 429) },
        }),
    },
    [`${at}/passkeys/options`]: {
      post: op('passkeyRegistrationOptions', `Passkey registration options (${name})`, `${own} Options for \`navigator.credentials.create()\`; the challenge works once, for 5 minutes. Needs a sign-in of the last 10 minutes (a multi-factor one, when the account has a second factor) or a proof.`, {
        security: AUTH_REQUIRED, requestBody: { required: false, content: json(proof) },
        responses: { 200: { description: 'PublicKeyCredentialCreationOptionsJSON.', content: json(webauthnJson) }, ...errors(400, 401, 403, 404, 409, 429) },
      }),
    },
    [`${at}/passkeys/reauth-options`]: {
      post: op('passkeyReauthOptions', `Passkey options to confirm a factor change (${name})`, `${own} Options for \`navigator.credentials.get()\` limited to the caller's passkeys; send the answer as \`passkey\` with the change. Works once, for 5 minutes; never signs in.`, {
        security: AUTH_REQUIRED, responses: { 200: { description: 'PublicKeyCredentialRequestOptionsJSON.', content: json(webauthnJson) }, ...errors(400, 401, 403, 404, 429) },
      }),
    },
    [`${at}/passkeys`]: {
      get: op('passkeyList', `The caller's passkeys (${name})`, own, {
        security: AUTH_REQUIRED, responses: { 200: { description: 'Passkeys (no key material).', content: json(obj({ items: { type: 'array', items: passkey } }, ['items'])) }, ...errors(401, 403, 404) },
      }),
      post: op('passkeyRegister', `Register a passkey (${name})`, `${own} Verifies the \`navigator.credentials.create()\` answer (origin, RP ID, challenge) and stores the credential.`, {
        security: AUTH_REQUIRED, requestBody: { required: true, content: json(obj({ credential: webauthnJson, name: str }, ['credential'])) },
        responses: { 200: { description: 'The passkey.', content: json(passkey) }, ...errors(400, 401, 403, 404, 409) },
      }),
    },
    [`${at}/passkeys/{passkey}`]: {
      patch: op('passkeyRename', `Rename a passkey (${name})`, own, {
        security: AUTH_REQUIRED, parameters: [{ name: 'passkey', in: 'path', required: true, schema: str }],
        requestBody: { required: true, content: json(obj({ name: str }, ['name'])) },
        responses: { 200: { description: 'The passkey.', content: json(passkey) }, ...errors(400, 401, 403, 404) },
      }),
      delete: op('passkeyDelete', `Delete a passkey (${name})`, `${own} Needs a sign-in of the last 10 minutes (a multi-factor one, when the account has a second factor) or a proof.`, {
        security: AUTH_REQUIRED, parameters: [{ name: 'passkey', in: 'path', required: true, schema: str }], requestBody: { required: false, content: json(proof) },
        responses: { 204: { description: 'Deleted.' }, ...errors(400, 401, 403, 404, 429) },
      }),
    },
    [`${at}/auth-with-passkey/options`]: {
      post: op('passkeySignInOptions', `Passkey sign-in options (${name})`,
        'Without `mfaId`: passwordless (any discoverable credential; user verification required). With `mfaId`: the second factor, limited to that account\'s passkeys.', {
          security: AUTH_OPTIONAL, requestBody: { required: false, content: json(obj({ mfaId: str })) },
          responses: { 200: { description: 'PublicKeyCredentialRequestOptionsJSON.', content: json(webauthnJson) }, ...errors(400, 403, 404, 429) },
        }),
    },
    [`${at}/auth-with-passkey`]: {
      post: op('authWithPasskey', `Sign in to ${name} with a passkey`,
        'Verifies a `navigator.credentials.get()` answer: passwordless (amr `hwk` or `swk`, `user`, `mfa`) or, with `mfaId`, as the second factor. Replayed challenges and counters that do not move forward are refused.', {
          security: AUTH_OPTIONAL, requestBody: { required: true, content: json(obj({ credential: webauthnJson, mfaId: str }, ['credential'])) },
          responses: { ...signedIn, ...errors(400, 401, 403, 404, 429) },
        }),
    },
  };
}
