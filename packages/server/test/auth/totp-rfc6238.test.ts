/**
 * RFC 6238 Appendix B: the published test vectors (SHA-1, SHA-256, SHA-512 with their 20-, 32- and
 * 64-byte seeds, 8 digits, 30-second steps), through the functions Basalt signs in with.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AUTHENTICATOR_APP, timeStep, totpCode, totpMatch, type TotpAlgorithm } from '../../src/auth/mfa/index.ts';

const seeds: Record<TotpAlgorithm, Uint8Array> = {
  sha1: new TextEncoder().encode('12345678901234567890'),
  sha256: new TextEncoder().encode('12345678901234567890123456789012'),
  sha512: new TextEncoder().encode('1234567890123456789012345678901234567890123456789012345678901234'),
};

// Time (s), T (hex), and the TOTP for each hash, as printed in the RFC's table.
const vectors: { time: number; step: string; sha1: string; sha256: string; sha512: string }[] = [
  { time: 59, step: '0000000000000001', sha1: '94287082', sha256: '46119246', sha512: '90693936' },
  { time: 1111111109, step: '00000000023523EC', sha1: '07081804', sha256: '68084774', sha512: '25091201' },
  { time: 1111111111, step: '00000000023523ED', sha1: '14050471', sha256: '67062674', sha512: '99943326' },
  { time: 1234567890, step: '000000000273EF07', sha1: '89005924', sha256: '91819424', sha512: '93441116' },
  { time: 2000000000, step: '0000000003F940AA', sha1: '69279037', sha256: '90698825', sha512: '38618901' },
  { time: 20000000000, step: '0000000027BC86AA', sha1: '65353130', sha256: '77737706', sha512: '47863826' },
];

describe('TOTP: RFC 6238 Appendix B test vectors', () => {
  it('the seeds have the lengths the RFC gives (20, 32, 64 bytes)', () => {
    assert.deepEqual([seeds.sha1.length, seeds.sha256.length, seeds.sha512.length], [20, 32, 64]);
  });

  for (const v of vectors) {
    for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
      const params = { algorithm, digits: 8, period: 30 };
      it(`${algorithm} at ${v.time}: ${v[algorithm]}`, async () => {
        assert.equal(timeStep(v.time, params), Number.parseInt(v.step, 16));
        assert.equal(await totpCode(seeds[algorithm], v.time, params), v[algorithm]);
        // Verification finds the same step, at the time and one step either side, but not two steps off.
        const step = Number.parseInt(v.step, 16);
        assert.equal(await totpMatch(seeds[algorithm], v[algorithm], v.time, params), step);
        assert.equal(await totpMatch(seeds[algorithm], v[algorithm], v.time + 30, params), step);
        assert.equal(await totpMatch(seeds[algorithm], v[algorithm], v.time - 30, params), step);
        assert.equal(await totpMatch(seeds[algorithm], v[algorithm], v.time + 61, params), undefined);
      });
    }
  }

  it('authenticator apps get SHA-1, 6 digits, 30 s: the low 6 digits of the 8-digit vectors', async () => {
    assert.deepEqual(AUTHENTICATOR_APP, { algorithm: 'sha1', digits: 6, period: 30 });
    for (const v of vectors) assert.equal(await totpCode(seeds.sha1, v.time), v.sha1.slice(2));
  });

  it('refuses malformed codes without throwing', async () => {
    for (const bad of [undefined, null, 123456, '', '12345', '1234567', 'abcdef', '12 34 5x', '９４２８７０８２']) {
      assert.equal(await totpMatch(seeds.sha1, bad, 59), undefined, String(bad));
    }
  });
});
