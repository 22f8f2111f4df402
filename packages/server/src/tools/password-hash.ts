import { argon2, randomBytes, timingSafeEqual, type Argon2Parameters } from 'node:crypto';

/**
 * argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), which NIST SP 800-63B
 * accepts for memory-hard hashing. Encoded in the hash, so they can be raised later.
 */
export const ARGON2_DEFAULTS = { memory: 19456, passes: 2, parallelism: 1, tagLength: 32 } as const;

function run(message: string, nonce: Buffer, p: { memory: number; passes: number; parallelism: number; tagLength: number }): Promise<Buffer> {
  const params: Argon2Parameters = { message, nonce, memory: p.memory, passes: p.passes, parallelism: p.parallelism, tagLength: p.tagLength };
  return new Promise((resolve, reject) => argon2('argon2id', params, (err, key) => (err ? reject(err) : resolve(key))));
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** Hash a password as a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await run(password, salt, ARGON2_DEFAULTS);
  const p = ARGON2_DEFAULTS;
  return `$argon2id$v=19$m=${p.memory},t=${p.passes},p=${p.parallelism}$${b64(salt)}$${b64(key)}`;
}

/** Check a password against a PHC string from {@link hashPassword}. False for anything malformed. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!m) return false;
  const expected = Buffer.from(m[5], 'base64');
  const memory = Number(m[1]);
  const passes = Number(m[2]);
  const parallelism = Number(m[3]);
  // Refuse absurd parameters from a tampered row instead of burning the machine.
  if (memory > 1 << 21 || passes > 20 || parallelism > 16 || expected.length < 16 || expected.length > 64) return false;
  const key = await run(password, Buffer.from(m[4], 'base64'), { memory, passes, parallelism, tagLength: expected.length });
  return timingSafeEqual(key, expected);
}

/** A hash of a random password, to spend the same time on unknown identities as on known ones. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}
