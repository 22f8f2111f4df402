import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox, parseMasterKeys, newMasterKeyEntry } from '../../src/secrets/index.ts';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('SecretBox (AES-256-GCM envelope encryption)', () => {
  it('seals and opens; each value has its own data key and iv', () => {
    const box = new SecretBox([k1]);
    const a = box.seal('hunter2', 'users/abc/apiToken');
    const b = box.seal('hunter2', 'users/abc/apiToken');
    assert.notEqual(a, b);
    assert.ok(!a.includes('hunter2'));
    assert.equal(box.open(a, 'users/abc/apiToken'), 'hunter2');
    assert.ok(SecretBox.isSealed(a));
    assert.ok(!SecretBox.isSealed('plain'));
  });

  const failures: [string, (s: string, box: SecretBox) => () => unknown][] = [
    ['another record id (value copied between records)', (s, box) => () => box.open(s, 'users/xyz/apiToken')],
    ['another field', (s, box) => () => box.open(s, 'users/abc/other')],
    ['a flipped ciphertext byte', (s, box) => () => {
      const parts = s.split('.');
      const ct = Buffer.from(parts[5], 'base64url');
      ct[0] ^= 1;
      parts[5] = ct.toString('base64url');
      return box.open(parts.join('.'), 'users/abc/apiToken');
    }],
    ['a data key wrapped for another value', (s, box) => () => {
      const other = box.seal('x', 'users/abc/apiToken').split('.');
      const parts = s.split('.');
      parts[2] = other[2];
      parts[3] = other[3];
      return box.open(parts.join('.'), 'users/abc/apiToken');
    }],
    ['an unknown master key', (s) => () => new SecretBox([k2]).open(s, 'users/abc/apiToken')],
    ['garbage', (_s, box) => () => box.open('bse1.k1.AAAA.AAAA.AAAA.AAAA', 'users/abc/apiToken')],
  ];
  for (const [name, attempt] of failures) {
    it(`refuses ${name} with secret_unreadable`, () => {
      const box = new SecretBox([k1]);
      const sealed = box.seal('hunter2', 'users/abc/apiToken');
      assert.throws(attempt(sealed, box), (e: Error & { code?: string }) => e.code === 'secret_unreadable');
    });
  }

  it('rewrap moves the data key to the active master key without changing the ciphertext', () => {
    const old = new SecretBox([k1]);
    const sealed = old.seal('s3cret', 'aad');
    const rotated = new SecretBox([k2, k1]);
    assert.equal(rotated.open(sealed, 'aad'), 's3cret');
    assert.ok(rotated.needsRewrap(sealed));
    const rewrapped = rotated.rewrap(sealed, 'aad');
    assert.equal(rewrapped.split('.')[5], sealed.split('.')[5]);
    assert.ok(!rotated.needsRewrap(rewrapped));
    assert.equal(new SecretBox([k2]).open(rewrapped, 'aad'), 's3cret');
    assert.throws(() => rotated.rewrap(sealed, 'other-aad'), (e: Error & { code?: string }) => e.code === 'secret_unreadable');
  });

  it('parses configured keys and names the bad entry without echoing key material', () => {
    const entry = newMasterKeyEntry('prod-2026');
    assert.equal(parseMasterKeys([entry])[0].id, 'prod-2026');
    assert.throws(() => parseMasterKeys(['nokey']), /expected "id:base64key"/);
    assert.throws(() => parseMasterKeys(['a:c2hvcnQ=']), /must be 32 bytes/);
    assert.throws(() => parseMasterKeys([entry, entry]), /listed twice/);
  });
});
