/**
 * Access-token keys: the JWK set verifies Basalt's tokens with a standard client (jose), rotation keeps
 * old tokens valid until they expire, other nodes pick rotated keys up, and JWT attacks get 401.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, SignJWT, generateKeyPair, exportJWK, importJWK, type JWK } from 'jose';
import { dialects } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { rotateTokenKeys } from '../../src/auth/index.ts';

for (const dialect of dialects()) {
  describe(`signing keys and JWKS (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
    });
    after(async () => t.dispose());

    const me = (token: string) => t.app.http.inject({ method: 'GET', url: '/api/collections', headers: { authorization: token } });
    const jwks = async () => (await t.app.http.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<Record<string, unknown>> };

    it('publishes public keys only, and they verify issued tokens', async () => {
      const set = await jwks();
      assert.equal(set.keys.length, 1);
      assert.ok(!('d' in set.keys[0]), 'no private part');
      const { payload, protectedHeader } = await jwtVerify(t.superuserToken, createLocalJWKSet(set as never), { algorithms: ['ES256'] });
      assert.equal(protectedHeader.kid, set.keys[0].kid);
      assert.equal(payload.type, 'auth');
    });

    it('rotation: new tokens use the new key, old tokens keep working, JWKS lists both', async () => {
      const old = t.superuserToken;
      const kid = await rotateTokenKeys(t.app.db, t.app.config.tokenTtlSeconds);
      await t.app.tokens.reload();
      const fresh = await t.app.auth.authWithPassword('_superusers', 'root@example.com', 'a-long-test-password', { ip: '127.0.0.1', userAgent: 'test' });
      const header = JSON.parse(Buffer.from(fresh.token.split('.')[0], 'base64url').toString()) as { kid: string };
      assert.equal(header.kid, kid);
      assert.equal((await me(old)).statusCode, 200);
      assert.equal((await me(fresh.token)).statusCode, 200);
      assert.equal((await jwks()).keys.length, 2);
    });

    it('a retired key stops verifying once its tokens must have expired', async () => {
      const before = (await jwks()).keys.map((k) => k.kid);
      const row = await t.app.db.get<{ value: string }>(`SELECT value FROM _params WHERE key = 'auth.signingKeys'`);
      const keys = (JSON.parse(row!.value) as Array<{ retired: string }>).map((k) => (k.retired ? { ...k, retired: '2000-01-01 00:00:00.000Z' } : k));
      await t.app.db.run(`UPDATE _params SET value = ? WHERE key = 'auth.signingKeys'`, [JSON.stringify(keys)]);
      await t.app.tokens.reload();
      const after = (await jwks()).keys.map((k) => k.kid);
      assert.equal(after.length, 1);
      assert.ok(before.includes(after[0]));
    });

    it('JWT attacks are refused with 401', async () => {
      const [h, p] = t.superuserToken.split('.');
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const attacker = await generateKeyPair('ES256', { extractable: true });
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid as string }).sign(attacker.privateKey);
      const embedded = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', jwk: await exportJWK(attacker.publicKey) }).sign(attacker.privateKey);
      const cases: Record<string, string> = {
        'alg none': `${enc({ ...header, alg: 'none' })}.${p}.`,
        'alg NONE': `${enc({ ...header, alg: 'NONE' })}.${p}.`,
        'HS256 signed with the public key': await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid as string })
          .sign(new TextEncoder().encode(JSON.stringify((await jwks()).keys[0]))),
        'a key of our own under Basalt\'s kid': forged,
        'an embedded jwk': embedded,
        'kid injection': `${enc({ ...header, kid: '../../etc/passwd' })}.${p}.${t.superuserToken.split('.')[2]}`,
        'a tampered payload': `${h}.${enc({ ...payload, id: 'someoneelse1234' })}.${t.superuserToken.split('.')[2]}`,
        'expired': await new SignJWT({ ...payload, exp: 1 }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid as string }).sign(attacker.privateKey),
        'garbage': 'not-a-jwt',
      };
      for (const [name, token] of Object.entries(cases)) {
        const res = await me(token);
        assert.equal(res.statusCode, 401, `${name}: ${res.statusCode} ${res.body}`);
        assert.equal((res.json() as { code: string }).code, 'token_invalid', name);
      }
    });

    it('claims are checked even on tokens signed with Basalt\'s own key (exp, nbf, iss, aud, typ, jku, refresh token as access token)', async () => {
      // The real signing key, as an insider or a key leak would have it: only the claims can refuse these.
      const stored = await t.app.db.get<{ value: string }>("SELECT value FROM _params WHERE key = 'auth.signingKeys'");
      const active = (JSON.parse(stored!.value) as { kid: string; jwk: JWK; retired: string }[]).find((k) => !k.retired)!;
      const key = await importJWK(active.jwk, 'ES256');
      const payload = JSON.parse(Buffer.from(t.superuserToken.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
      const now = Math.floor(Date.now() / 1000);
      const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
        new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: active.kid, ...header }).sign(key);
      assert.equal((await me(await sign({}))).statusCode, 200, 'the unchanged claims pass (the control case)');
      const signIn = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'root@example.com', password: 'a-long-test-password' } });
      const cases: Record<string, string> = {
        'expired': await sign({ exp: now - 120, iat: now - 1000 }),
        'not yet valid (nbf in the future)': await sign({ nbf: now + 3600 }),
        'issued in the future (iat)': await sign({ iat: now + 3600, exp: now + 7200 }),
        'a lifetime longer than Basalt issues (exp a year away)': await sign({ iat: now, exp: now + 365 * 86400 }),
        'wrong issuer': await sign({ iss: 'https://evil.example.com' }),
        'wrong audience': await sign({ aud: 'someone-else' }),
        'no exp': await new SignJWT(Object.fromEntries(Object.entries(payload).filter(([k]) => k !== 'exp'))).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: active.kid }).sign(key),
        'wrong typ (an ID token or plain JWT)': await sign({}, { typ: 'JWT' }),
        'a jku header pointing elsewhere': `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'ffffffffffffffff', jku: 'https://evil.example.com/jwks.json' })).toString('base64url')}.${t.superuserToken.split('.')[1]}.${t.superuserToken.split('.')[2]}`,
        'the refresh token used as an access token': (signIn.json() as { refreshToken: string }).refreshToken,
      };
      for (const [name, token] of Object.entries(cases)) {
        const res = await me(token);
        assert.equal(res.statusCode, 401, `${name}: ${res.statusCode} ${res.body}`);
        assert.equal((res.json() as { code: string }).code, 'token_invalid', name);
      }
    });
  });
}
