/**
 * A software WebAuthn authenticator for tests: ES256 key pairs from node:crypto, `none` attestation
 * registration responses and signed assertions (authenticatorData + clientDataJSON), in the JSON
 * shapes browsers hand to `@simplewebauthn/browser` (base64url members). Each credential is
 * discoverable and keeps its own signature counter; overrides let tests forge wrong origins, RP IDs,
 * replayed or regressed counters.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/** The bits of registration options the authenticator reads. */
export interface CreationOptions {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
}

/** The bits of sign-in options the authenticator reads. */
export interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

/** A registration response as `navigator.credentials.create()` + JSON serialisation gives it. */
export interface RegistrationJson {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: 'platform';
}

/** An assertion as `navigator.credentials.get()` + JSON serialisation gives it. */
export interface AssertionJson {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: 'platform';
}

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

// ---- a minimal CBOR encoder (RFC 8949): enough for COSE keys and attestation objects ----

type Cbor = number | string | Uint8Array | Cbor[] | Map<number | string, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Encode a value as CBOR. */
export function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, s.length), s]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  const parts: Buffer[] = [head(5, v.size)];
  for (const [k, x] of v) parts.push(cbor(k), cbor(x));
  return Buffer.concat(parts);
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** Flags of authenticator data. */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

/** A platform authenticator in memory. */
export class SoftAuthenticator {
  readonly origin: string;
  /** Verify the user (PIN/biometric) on every ceremony. */
  userVerification: boolean;
  /** Report credentials as synced (backup eligible and backed up) instead of device-bound. */
  readonly synced: boolean;
  readonly #credentials: Credential[] = [];

  constructor(opts: { origin: string; userVerification?: boolean; synced?: boolean }) {
    this.origin = opts.origin;
    this.userVerification = opts.userVerification ?? true;
    this.synced = opts.synced ?? false;
  }

  #flags(extra: number, uv: boolean): number {
    return UP | (uv ? UV : 0) | (this.synced ? BE | BS : 0) | extra;
  }

  /** Answer registration options: a new ES256 credential with `none` attestation. */
  register(options: CreationOptions, override: { origin?: string; rpId?: string; challenge?: string } = {}): RegistrationJson {
    const rpId = override.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = cbor(new Map<number, Cbor>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
    const id = randomBytes(32);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const counter = Buffer.alloc(4);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.#flags(AT, this.userVerification)]), counter, Buffer.alloc(16), idLength, id, cose]);
    const attestationObject = cbor(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: override.challenge ?? options.challenge, origin: override.origin ?? this.origin, crossOrigin: false }));
    this.#credentials.push({ id, privateKey, rpId, userHandle: options.user.id, counter: 0 });
    return {
      id: b64u(id), rawId: b64u(id), type: 'public-key',
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(attestationObject), transports: ['internal'] },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
  }

  /**
   * Answer sign-in options with a signed assertion: the allowed credential, or (discoverable) the newest
   * credential of the RP. The counter goes up by one unless `counter` forces a value.
   */
  assert(options: RequestOptions, override: { origin?: string; rpId?: string; credentialId?: string; counter?: number; userVerification?: boolean } = {}): AssertionJson {
    const rpId = override.rpId ?? options.rpId ?? new URL(this.origin).hostname;
    const allowed = new Set((options.allowCredentials ?? []).map((c) => c.id));
    const candidates = this.#credentials.filter((c) => (override.credentialId ? b64u(c.id) === override.credentialId : allowed.size ? allowed.has(b64u(c.id)) : true));
    const cred = candidates.at(-1);
    if (!cred) throw new Error('the soft authenticator has no matching credential');
    cred.counter = override.counter ?? cred.counter + 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(cred.counter);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.#flags(0, override.userVerification ?? this.userVerification)]), counter]);
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: override.origin ?? this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), cred.privateKey);
    return {
      id: b64u(cred.id), rawId: b64u(cred.id), type: 'public-key',
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: cred.userHandle },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
  }
}
