/**
 * Email flows of auth collections against a real SMTP server: verification, password reset, email
 * change, OTP sign-in and new-device notices, end to end by reading tokens and codes out of the mail.
 * Also: single use, expiry, tokens that die with a password change, no account enumeration, OTP
 * wrong-try burning, rate limits (429 + RateLimit headers) and 503 without SMTP. Regression tests of
 * the security review: email squatting ended by an OTP sign-in, the per-address quota that must not
 * lock anyone out, IPv6 /64 grouping, password guesses at confirm-email-change sharing the sign-in
 * budget, the token binding re-checked inside the redeeming transaction, strict addresses, and
 * new-device notices that never quote the User-Agent.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { roomInWindow } from '../support/rate-windows.ts';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { startSmtp, tokenFrom, otpFrom, type TestSmtp } from '../support/smtp.ts';
import { loadConfig } from '../../src/app/index.ts';
import { ipKey } from '../../src/api/rest/rate-limit.ts';

const PASSWORD = 'correct horse 1';

let ipCounter = 0;
/** A fresh client address per test, so per-IP quotas of one test do not spill into the next. */
const freshIp = () => `10.9.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;

interface Res { statusCode: number; body: string; headers: Record<string, unknown>; json(): unknown }

for (const dialect of dialects()) {
  describe(`auth email flows (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtp;

    const post = (url: string, payload: unknown, opts: { ip?: string; token?: string; ua?: string } = {}): Promise<Res> => t.app.http.inject({
      method: 'POST', url, payload: payload as Record<string, unknown>, remoteAddress: opts.ip ?? '127.0.0.1',
      headers: { ...(opts.token ? { authorization: opts.token } : {}), 'user-agent': opts.ua ?? 'basalt-tests' },
    }) as unknown as Promise<Res>;
    const code = (r: Res) => (r.json() as { code: string }).code;
    const signUp = async (email: string, collection = 'users') => {
      const r = await post(`/api/collections/${collection}/records`, { email, password: PASSWORD, passwordConfirm: PASSWORD }, { ip: freshIp() });
      assert.equal(r.statusCode, 200, r.body);
      return (r.json() as { id: string }).id;
    };
    const signIn = (email: string, password = PASSWORD, ua = 'basalt-tests') => post('/api/collections/users/auth-with-password', { identity: email, password }, { ip: freshIp(), ua });
    const view = async (id: string) => {
      const r = await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: t.superuserToken } });
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as { email: string; verified: boolean };
    };

    before(async () => {
      smtp = await startSmtp();
      t = await startTestApp(dialect, {
        smtp: smtp.config,
        appName: 'Acme',
        rateLimits: { ...loadConfig({}, {}).rateLimits, emailRequestPerIp: 8, failureDelayMs: 1 },
      });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', updateRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id', fields: [], otp: { enabled: true, length: 6, duration: 300 } });
      await createCollection(t, { name: 'members', type: 'auth', createRule: '', fields: [] });
    });
    after(async () => {
      await t?.dispose();
      await smtp?.close();
    });

    it('verifies an email with the token from the mail, once', async () => {
      const id = await signUp('carol@example.com');
      const ip = freshIp();
      const r = await post('/api/collections/users/request-verification', { email: 'carol@example.com' }, { ip });
      assert.equal(r.statusCode, 204, r.body);
      const mail = await smtp.waitFor('carol@example.com', (m) => m.subject === 'Verify your Acme email');
      assert.match(mail.text, /\/_\/#\/auth\/confirm-verification\//);
      const token = tokenFrom(mail);
      assert.equal((await view(id)).verified, false);
      const ok = await post('/api/collections/users/confirm-verification', { token }, { ip });
      assert.equal(ok.statusCode, 204, ok.body);
      assert.equal((await view(id)).verified, true);
      const again = await post('/api/collections/users/confirm-verification', { token }, { ip });
      assert.equal(again.statusCode, 400);
      assert.equal(code(again), 'email_token_invalid');
      // Verified records get no further verification mail.
      const before = smtp.to('carol@example.com').length;
      assert.equal((await post('/api/collections/users/request-verification', { email: 'carol@example.com' }, { ip })).statusCode, 204);
      await t.app.authEmail.drain();
      assert.equal(smtp.to('carol@example.com').length, before);
    });

    it('refuses wrong, missing and other-collection tokens with stable codes', async () => {
      const ip = freshIp();
      const wrong = await post('/api/collections/users/confirm-verification', { token: 'x'.repeat(43) }, { ip });
      assert.equal(wrong.statusCode, 400);
      assert.equal(code(wrong), 'email_token_invalid');
      const missing = await post('/api/collections/users/confirm-verification', {}, { ip });
      assert.equal(missing.statusCode, 400);
      assert.equal(code(missing), 'validation_failed');
      assert.match(missing.body, /"token"/);
      // A reset token is no verification token, and a users token means nothing in members.
      await signUp('dora@example.com');
      await post('/api/collections/users/request-password-reset', { email: 'dora@example.com' }, { ip });
      const token = tokenFrom(await smtp.waitFor('dora@example.com'));
      assert.equal(code(await post('/api/collections/users/confirm-verification', { token }, { ip })), 'email_token_invalid');
      assert.equal(code(await post('/api/collections/members/confirm-password-reset', { token, password: 'a new long passphrase', passwordConfirm: 'a new long passphrase' }, { ip })), 'email_token_invalid');
    });

    it('does not reveal whether an address has an account (same status and body, no mail)', async () => {
      await signUp('known@example.com');
      for (const path of ['request-verification', 'request-password-reset', 'request-otp']) {
        const known = await post(`/api/collections/users/${path}`, { email: 'known@example.com' }, { ip: freshIp() });
        const unknown = await post(`/api/collections/users/${path}`, { email: 'unknown@example.com' }, { ip: freshIp() });
        assert.equal(known.statusCode, unknown.statusCode, path);
        if (path === 'request-otp') {
          assert.equal(known.statusCode, 200);
          assert.match((known.json() as { otpId: string }).otpId, /^[a-z0-9]{15}$/);
          assert.match((unknown.json() as { otpId: string }).otpId, /^[a-z0-9]{15}$/);
          assert.deepEqual(Object.keys(known.json() as object), Object.keys(unknown.json() as object));
        } else {
          assert.equal(known.statusCode, 204, path);
          assert.equal(known.body, unknown.body, path);
        }
        // The same policy and remaining count; `t=` (seconds to the window's end) may tick between the two requests.
        const rateLimit = (h: unknown) => { const m = /^(.*);t=(\d+)$/.exec(String(h)); return m ? { rest: m[1], t: Number(m[2]) } : { rest: String(h), t: 0 }; };
        const [k, u] = [rateLimit(known.headers['ratelimit']), rateLimit(unknown.headers['ratelimit'])];
        assert.equal(k.rest, u.rest, path);
        assert.ok(Math.abs(k.t - u.t) <= 1, `${path}: ${known.headers['ratelimit']} vs ${unknown.headers['ratelimit']}`);
      }
      await t.app.authEmail.drain();
      assert.equal(smtp.to('unknown@example.com').length, 0);
      assert.ok(smtp.to('known@example.com').length >= 3);
      // A malformed address is a validation error, whoever asks.
      const bad = await post('/api/collections/users/request-password-reset', { email: 'not-an-email' }, { ip: freshIp() });
      assert.equal(bad.statusCode, 400);
      assert.equal(code(bad), 'validation_failed');
    });

    it('answers known and unknown addresses in similar time (the work happens after the answer)', async () => {
      await signUp('timing@example.com');
      const time = async (email: string) => {
        const start = process.hrtime.bigint();
        const r = await post('/api/collections/users/request-otp', { email }, { ip: freshIp() });
        assert.equal(r.statusCode, 200);
        return Number(process.hrtime.bigint() - start) / 1e6;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 4; i++) {
        known.push(await time('timing@example.com'));
        unknown.push(await time(`nobody${i}@example.com`));
        await t.app.authEmail.drain();
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      // argon2 of the code alone would take tens of ms if it were on the answer's path.
      assert.ok(Math.abs(median(known) - median(unknown)) < 40, `known ${median(known)} ms vs unknown ${median(unknown)} ms`);
    });

    it('resets a password: policy applies, sessions end, the token is single use', async () => {
      const id = await signUp('dave@example.com');
      const session = await signIn('dave@example.com');
      assert.equal(session.statusCode, 200);
      const { token: access, refreshToken } = session.json() as { token: string; refreshToken: string };
      const ip = freshIp();
      assert.equal((await post('/api/collections/users/request-password-reset', { email: 'dave@example.com' }, { ip })).statusCode, 204);
      const mail = await smtp.waitFor('dave@example.com', (m) => m.subject === 'Reset your Acme password');
      assert.deepEqual(mail.to, ['dave@example.com'], 'exactly one recipient');
      const token = tokenFrom(mail);
      const mismatch = await post('/api/collections/users/confirm-password-reset', { token, password: 'a new long passphrase', passwordConfirm: 'something else' }, { ip });
      assert.equal(mismatch.statusCode, 400);
      assert.match(mismatch.body, /passwordConfirm/);
      const weak = await post('/api/collections/users/confirm-password-reset', { token, password: 'password123', passwordConfirm: 'password123' }, { ip });
      assert.equal(weak.statusCode, 400);
      assert.equal(code(weak), 'validation_failed');
      assert.match(weak.body, /validation_password_weak/);
      // A refused password leaves the token usable.
      const ok = await post('/api/collections/users/confirm-password-reset', { token, password: 'a new long passphrase', passwordConfirm: 'a new long passphrase' }, { ip });
      assert.equal(ok.statusCode, 204, ok.body);
      assert.equal(code(await post('/api/collections/users/confirm-password-reset', { token, password: 'another long passphrase', passwordConfirm: 'another long passphrase' }, { ip })), 'email_token_invalid');
      // Every session ended: the access token and the refresh token are dead.
      const read = await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: access } });
      assert.equal(read.statusCode, 401);
      const refresh = await post('/api/collections/users/auth-refresh', { refreshToken }, { ip });
      assert.equal(refresh.statusCode, 401);
      assert.equal((await signIn('dave@example.com')).statusCode, 400);
      assert.equal((await signIn('dave@example.com', 'a new long passphrase')).statusCode, 200);
      // The reset proved the address.
      assert.equal((await view(id)).verified, true);
    });

    it('a reset token dies when the password changes after it was issued', async () => {
      const id = await signUp('erin@example.com');
      const ip = freshIp();
      await post('/api/collections/users/request-password-reset', { email: 'erin@example.com' }, { ip });
      const token = tokenFrom(await smtp.waitFor('erin@example.com'));
      const { token: access } = (await signIn('erin@example.com')).json() as { token: string };
      const change = await t.app.http.inject({
        method: 'PATCH', url: `/api/collections/users/records/${id}`, headers: { authorization: access },
        payload: { oldPassword: PASSWORD, password: 'changed long passphrase', passwordConfirm: 'changed long passphrase' },
      });
      assert.equal(change.statusCode, 200, change.body);
      const r = await post('/api/collections/users/confirm-password-reset', { token, password: 'a new long passphrase', passwordConfirm: 'a new long passphrase' }, { ip });
      assert.equal(r.statusCode, 400);
      assert.equal(code(r), 'email_token_invalid');
    });

    it('an expired token is refused', async () => {
      await signUp('old@example.com');
      const ip = freshIp();
      await post('/api/collections/users/request-verification', { email: 'old@example.com' }, { ip });
      const token = tokenFrom(await smtp.waitFor('old@example.com'));
      // Durations are at least a minute; age the stored token instead of waiting.
      await t.app.db.run(`UPDATE _email_tokens SET expires = '2000-01-01 00:00:00.000Z' WHERE purpose = 'verification'`);
      const r = await post('/api/collections/users/confirm-verification', { token }, { ip });
      assert.equal(r.statusCode, 400);
      assert.equal(code(r), 'email_token_invalid');
    });

    it('changes an email: mail to the new address, password required, sessions end, taken addresses refused', async () => {
      const id = await signUp('frank@example.com');
      await signUp('taken@example.com');
      const { token: access, refreshToken } = (await signIn('frank@example.com')).json() as { token: string; refreshToken: string };
      const ip = freshIp();
      assert.equal((await post('/api/collections/users/request-email-change', { newEmail: 'frank.new@example.com' }, { ip })).statusCode, 401);
      const taken = await post('/api/collections/users/request-email-change', { newEmail: 'taken@example.com' }, { ip, token: access });
      assert.equal(taken.statusCode, 400);
      assert.match(taken.body, /validation_not_unique/);
      const asMember = await post('/api/collections/members/request-email-change', { newEmail: 'x@example.com' }, { ip, token: access });
      assert.equal(asMember.statusCode, 403);
      const r = await post('/api/collections/users/request-email-change', { newEmail: 'frank.new@example.com' }, { ip, token: access });
      assert.equal(r.statusCode, 204, r.body);
      const mail = await smtp.waitFor('frank.new@example.com', (m) => m.subject === 'Confirm your new Acme email');
      await t.app.authEmail.drain();
      assert.equal(smtp.to('frank@example.com').length, 0, 'the old address gets no token');
      const token = tokenFrom(mail);
      const wrongPw = await post('/api/collections/users/confirm-email-change', { token, password: 'not my password' }, { ip });
      assert.equal(wrongPw.statusCode, 400);
      assert.match(wrongPw.body, /validation_invalid_password/);
      const ok = await post('/api/collections/users/confirm-email-change', { token, password: PASSWORD }, { ip });
      assert.equal(ok.statusCode, 204, ok.body);
      const rec = await view(id);
      assert.equal(rec.email, 'frank.new@example.com');
      assert.equal(rec.verified, true);
      assert.equal((await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: access } })).statusCode, 401);
      assert.equal((await post('/api/collections/users/auth-refresh', { refreshToken }, { ip })).statusCode, 401);
      assert.equal((await signIn('frank.new@example.com')).statusCode, 200);
      assert.equal(code(await post('/api/collections/users/confirm-email-change', { token, password: PASSWORD }, { ip })), 'email_token_invalid');
    });

    it('refuses to confirm an email change to an address taken in the meantime', async () => {
      await signUp('gina@example.com');
      const { token: access } = (await signIn('gina@example.com')).json() as { token: string };
      const ip = freshIp();
      assert.equal((await post('/api/collections/users/request-email-change', { newEmail: 'gina.new@example.com' }, { ip, token: access })).statusCode, 204);
      const token = tokenFrom(await smtp.waitFor('gina.new@example.com'));
      await signUp('gina.new@example.com');
      const r = await post('/api/collections/users/confirm-email-change', { token, password: PASSWORD }, { ip });
      assert.equal(r.statusCode, 400);
      assert.equal(code(r), 'validation_failed');
      assert.match(r.body, /validation_not_unique/);
    });

    it('signs in with an email OTP (SDK shape), marks the email verified, single use', async () => {
      const id = await signUp('henry@example.com');
      const ip = freshIp();
      const r = await post('/api/collections/users/request-otp', { email: 'henry@example.com' }, { ip });
      assert.equal(r.statusCode, 200, r.body);
      const { otpId } = r.json() as { otpId: string };
      const mail = await smtp.waitFor('henry@example.com', (m) => m.subject === 'OTP for Acme');
      const otp = otpFrom(mail);
      assert.match(otp, /^\d{6}$/);
      const auth = await post('/api/collections/users/auth-with-otp', { otpId, password: otp }, { ip, ua: 'basalt-tests' });
      assert.equal(auth.statusCode, 200, auth.body);
      const body = auth.json() as { token: string; record: { id: string; verified: boolean }; refreshToken: string };
      assert.equal(body.record.id, id);
      assert.equal(body.record.verified, true);
      assert.equal(typeof body.refreshToken, 'string');
      const claims = JSON.parse(Buffer.from(body.token.split('.')[1], 'base64url').toString()) as { amr?: string[] };
      assert.deepEqual(claims.amr, ['otp']);
      const again = await post('/api/collections/users/auth-with-otp', { otpId, password: otp }, { ip });
      assert.equal(again.statusCode, 400);
      assert.equal(code(again), 'otp_invalid');
      assert.ok(!auth.body.includes(otp) || body.token.includes(otp), 'the code is not echoed');
    });

    it('burns an OTP after 5 wrong tries; a fake otpId fails the same way', async () => {
      await signUp('ivan@example.com');
      const ip = freshIp();
      const { otpId } = (await post('/api/collections/users/request-otp', { email: 'ivan@example.com' }, { ip })).json() as { otpId: string };
      const otp = otpFrom(await smtp.waitFor('ivan@example.com'));
      const wrong = otp === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++) {
        const r = await post('/api/collections/users/auth-with-otp', { otpId, password: wrong }, { ip });
        assert.equal(r.statusCode, 400);
        assert.equal(code(r), 'otp_invalid');
      }
      const burnt = await post('/api/collections/users/auth-with-otp', { otpId, password: otp }, { ip });
      assert.equal(burnt.statusCode, 400);
      assert.equal(code(burnt), 'otp_invalid');
      const { otpId: fake } = (await post('/api/collections/users/request-otp', { email: 'nobody.ivan@example.com' }, { ip })).json() as { otpId: string };
      const f = await post('/api/collections/users/auth-with-otp', { otpId: fake, password: otp }, { ip });
      assert.equal(f.statusCode, 400);
      assert.equal(code(f), 'otp_invalid');
      const missing = await post('/api/collections/users/auth-with-otp', { otpId }, { ip });
      assert.equal(code(missing), 'validation_failed');
    });

    it('OTP is refused where the collection has not enabled it; auth-methods reports it', async () => {
      const ip = freshIp();
      const req = await post('/api/collections/members/request-otp', { email: 'someone@example.com' }, { ip });
      assert.equal(req.statusCode, 403);
      assert.equal(code(req), 'otp_disabled');
      const auth = await post('/api/collections/members/auth-with-otp', { otpId: 'abcdefghijklmno', password: '123456' }, { ip });
      assert.equal(auth.statusCode, 403);
      assert.equal(code(auth), 'otp_disabled');
      const methods = async (c: string) => ((await t.app.http.inject({ method: 'GET', url: `/api/collections/${c}/auth-methods` })).json() as { otp: unknown }).otp;
      assert.deepEqual(await methods('users'), { enabled: true, duration: 300 });
      assert.deepEqual(await methods('members'), { enabled: false, duration: 180 });
    });

    it('mail-quota-no-lockout: past the per-address quota the answer is the usual one and no mail goes out; the per-IP quota still answers 429', async () => {
      await signUp('kate@example.com');
      const resets = () => smtp.to('kate@example.com').filter((m) => m.subject === 'Reset your Acme password').length;
      // Per address (5 an hour), whatever the IP: five mails go out.
      const answers: Res[] = [];
      for (let i = 0; i < 8; i++) answers.push(await post('/api/collections/users/request-password-reset', { email: 'kate@example.com' }, { ip: freshIp() }));
      for (const a of answers) {
        assert.equal(a.statusCode, 204, a.body);
        assert.equal(a.body, '');
        // The address's quota never shows: only the per-IP policy is announced, the same for every call.
        assert.equal(String(a.headers['ratelimit-policy']), '"email-request-ip";q=8;w=3600');
        assert.match(String(a.headers.ratelimit), /^"email-request-ip";r=7;t=\d+$/);
        assert.equal(a.headers['retry-after'], undefined);
      }
      await t.app.authEmail.drain();
      assert.equal(resets(), 5, 'the quota still protects the inbox');
      // OTP past the quota: a fresh otpId of the usual shape, no mail, and the id signs in to nothing.
      const otp = await post('/api/collections/users/request-otp', { email: 'kate@example.com' }, { ip: freshIp() });
      assert.equal(otp.statusCode, 200, otp.body);
      assert.match((otp.json() as { otpId: string }).otpId, /^[a-z0-9]{15}$/);
      await t.app.authEmail.drain();
      assert.equal(smtp.to('kate@example.com').filter((m) => m.subject === 'OTP for Acme').length, 0);
      const held = (await t.app.audit.list(0, 10_000, 'auth.')).filter((e) => e.target === 'users:kate@example.com' && (e.details as { reason?: string }).reason === 'address_quota');
      assert.ok(held.length >= 4, 'held-back mails are audited');
      // Per IP (8 an hour in this suite), whatever the address: 429 as before.
      const ip = freshIp();
      for (let i = 0; i < 8; i++) assert.equal((await post('/api/collections/users/request-otp', { email: `ip${i}@example.com` }, { ip })).statusCode, 200);
      const perIp = await post('/api/collections/users/request-otp', { email: 'ip9@example.com' }, { ip });
      assert.equal(perIp.statusCode, 429);
      assert.equal(code(perIp), 'rate_limited');
      assert.match(String(perIp.headers.ratelimit), /"email-request-ip";r=0/);
      assert.ok(Number(perIp.headers['retry-after']) > 0);
    });

    it('mail-quota-collection-id: the collection\'s name and id share one per-address quota', async () => {
      await signUp('quota.alias@example.com');
      const col = await t.app.http.inject({ method: 'GET', url: '/api/collections/users', headers: { authorization: t.superuserToken } });
      const id = (col.json() as { id: string }).id;
      for (let i = 0; i < 8; i++) {
        const path = i % 2 === 0 ? 'users' : id;
        assert.equal((await post(`/api/collections/${path}/request-password-reset`, { email: 'quota.alias@example.com' }, { ip: freshIp() })).statusCode, 204);
      }
      await t.app.authEmail.drain();
      assert.equal(smtp.to('quota.alias@example.com').length, 5);
    });

    it('ipv6-per-64: addresses of one IPv6 /64 share the per-IP quota; another /64 has its own', async () => {
      for (let i = 1; i <= 8; i++) {
        const r = await post('/api/collections/users/request-otp', { email: `v6-${i}@example.com` }, { ip: `2001:db8:77:1::${i.toString(16)}` });
        assert.equal(r.statusCode, 200, r.body);
      }
      const same64 = await post('/api/collections/users/request-otp', { email: 'v6-9@example.com' }, { ip: '2001:db8:77:1:ffff:ffff:ffff:ffff' });
      assert.equal(same64.statusCode, 429);
      assert.equal(code(same64), 'rate_limited');
      const other64 = await post('/api/collections/users/request-otp', { email: 'v6-10@example.com' }, { ip: '2001:db8:77:2::1' });
      assert.equal(other64.statusCode, 200, other64.body);
    });

    it('mails a new-device notice for a new user agent, not for the first sign-in or a known device', async () => {
      await signUp('lena@example.com');
      const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
      const safari = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
      const notices = () => smtp.to('lena@example.com').filter((m) => m.subject === 'Sign-in from a new device');
      assert.equal((await signIn('lena@example.com', PASSWORD, firefox)).statusCode, 200);
      await t.app.authEmail.drain();
      assert.equal(notices().length, 0, 'first sign-in: no notice');
      assert.equal((await signIn('lena@example.com', PASSWORD, firefox)).statusCode, 200);
      await t.app.authEmail.drain();
      assert.equal(notices().length, 0, 'known device: no notice');
      assert.equal((await signIn('lena@example.com', PASSWORD, safari)).statusCode, 200);
      const notice = await smtp.waitFor('lena@example.com', (m) => m.subject === 'Sign-in from a new device');
      assert.match(notice.text, /Safari on iOS, IP 10\.9\.\d+\.\d+/);
      assert.match(notice.text, /Acme/);
    });

    it('new-device-notice-no-user-agent-text: the notice names a browser family and a system, never the attacker\'s User-Agent text or links', async () => {
      await signUp('nina@example.com');
      assert.equal((await signIn('nina@example.com', PASSWORD, 'first device')).statusCode, 200);
      const phishing = `Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36 -- Security team: your account is locked, confirm at https://evil.example/reset?u=nina now ${'x'.repeat(200)}`;
      assert.equal((await signIn('nina@example.com', PASSWORD, phishing)).statusCode, 200);
      const notice = await smtp.waitFor('nina@example.com', (m) => m.subject === 'Sign-in from a new device');
      const device = /new device \((.*)\)\./.exec(notice.text)?.[1] ?? '';
      assert.match(device, /^Chrome on Windows, IP 10\.9\.\d+\.\d+$/);
      assert.ok(device.length <= 100);
      for (const bad of ['evil.example', 'http', 'locked', 'xxxx']) assert.ok(!notice.text.includes(bad), bad);
    });

    it('otp-verification-ends-squatter-access: an OTP sign-in that verifies an account replaces the squatter\'s password and ends every session', async () => {
      // The attacker signs up the victim's address with their own password and keeps a session.
      const id = await signUp('victim@example.com');
      const squat = await signIn('victim@example.com');
      assert.equal(squat.statusCode, 200);
      const { token: squatAccess, refreshToken: squatRefresh } = squat.json() as { token: string; refreshToken: string };
      // The address's owner signs in with an emailed code.
      const ip = freshIp();
      const { otpId } = (await post('/api/collections/users/request-otp', { email: 'victim@example.com' }, { ip })).json() as { otpId: string };
      const code6 = otpFrom(await smtp.waitFor('victim@example.com', (m) => m.subject === 'OTP for Acme'));
      const owner = await post('/api/collections/users/auth-with-otp', { otpId, password: code6 }, { ip });
      assert.equal(owner.statusCode, 200, owner.body);
      const { token: ownerAccess, refreshToken: ownerRefresh, record } = owner.json() as { token: string; refreshToken: string; record: { verified: boolean } };
      assert.equal(record.verified, true);
      // The attacker is out: access token, refresh token and password all fail.
      assert.equal((await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: squatAccess } })).statusCode, 401);
      assert.equal((await post('/api/collections/users/auth-refresh', { refreshToken: squatRefresh }, { ip: freshIp() })).statusCode, 401);
      const pw = await signIn('victim@example.com');
      assert.equal(pw.statusCode, 400);
      assert.equal(code(pw), 'auth_failed');
      // The owner's new session works.
      assert.equal((await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: ownerAccess } })).statusCode, 200);
      assert.equal((await post('/api/collections/users/auth-refresh', { refreshToken: ownerRefresh }, { ip: freshIp() })).statusCode, 200);
      // A verified account keeps its password on later OTP sign-ins.
      const { otpId: again } = (await post('/api/collections/users/request-otp', { email: 'victim@example.com' }, { ip })).json() as { otpId: string };
      const code2 = otpFrom(await smtp.waitFor('victim@example.com', (m) => m.subject === 'OTP for Acme' && otpFrom(m) !== code6));
      assert.equal((await post('/api/collections/users/auth-with-otp', { otpId: again, password: code2 }, { ip })).statusCode, 200);
      assert.equal((await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${id}`, headers: { authorization: ownerAccess } })).statusCode, 200, 'no second reset');
    });

    it('email-change-password-guess-budget: wrong passwords at confirm-email-change spend the sign-in budget of auth-with-password', async () => {
      await roomInWindow();
      await signUp('olga@example.com');
      const { token: access } = (await signIn('olga@example.com')).json() as { token: string };
      assert.equal((await post('/api/collections/users/request-email-change', { newEmail: 'olga.new@example.com' }, { ip: freshIp(), token: access })).statusCode, 204);
      const token = tokenFrom(await smtp.waitFor('olga.new@example.com'));
      const attacker = freshIp();
      for (let i = 0; i < 6; i++) { // 1–6 from one source
        const r = await post('/api/collections/users/confirm-email-change', { token, password: `guess ${i}` }, { ip: attacker });
        assert.equal(r.statusCode, 400, r.body);
        assert.match(r.body, /validation_invalid_password/);
        assert.match(String(r.headers['ratelimit-policy']), /"signin-identity-ip";q=10;w=900/);
      }
      const signInFrom = (ip: string, password: string) => post('/api/collections/users/auth-with-password', { identity: 'olga@example.com', password }, { ip });
      for (let i = 0; i < 4; i++) assert.equal((await signInFrom(attacker, `guess ${i}`)).statusCode, 400); // 7–10
      // The (identity, source) budget is spent: that source is refused at sign-in and at the confirmation alike…
      const signin = await signInFrom(attacker, PASSWORD);
      assert.equal(signin.statusCode, 429);
      assert.match(String(signin.headers.ratelimit), /"signin-identity-ip";r=0/);
      const confirm = await post('/api/collections/users/confirm-email-change', { token, password: PASSWORD }, { ip: attacker });
      assert.equal(confirm.statusCode, 429);
      assert.equal(code(confirm), 'rate_limited');
      assert.equal((await view((await t.app.records.findRawBy('users', 'email', 'olga@example.com'))!.id as string)).email, 'olga@example.com');
      // …while the owner, from another address, still signs in.
      assert.equal((await signInFrom(freshIp(), PASSWORD)).statusCode, 200);
    });

    it('confirm-token-binding-recheck: a password change committed between the token check and its use makes the token invalid', async () => {
      const id = await signUp('paul@example.com');
      const ip = freshIp();
      await post('/api/collections/users/request-password-reset', { email: 'paul@example.com' }, { ip });
      const token = tokenFrom(await smtp.waitFor('paul@example.com', (m) => m.subject === 'Reset your Acme password'));
      // Make the race deterministic: the owner's password change lands right after the flow looked the
      // record up (and found the token still bound to it), before its transaction.
      const records = t.app.records;
      const original = records.findRawBy.bind(records);
      let armed = true;
      records.findRawBy = async (collection, f, value) => {
        const row = await original(collection, f, value);
        if (armed && collection === 'users' && f === 'id' && value === id) {
          armed = false;
          const change = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${id}`, headers: { authorization: t.superuserToken }, payload: { password: 'owner changed passphrase', passwordConfirm: 'owner changed passphrase' } });
          assert.equal(change.statusCode, 200, change.body);
        }
        return row;
      };
      try {
        const r = await post('/api/collections/users/confirm-password-reset', { token, password: 'attacker long passphrase', passwordConfirm: 'attacker long passphrase' }, { ip });
        assert.equal(armed, false, 'the interposed change ran');
        assert.equal(r.statusCode, 400, r.body);
        assert.equal(code(r), 'email_token_invalid');
      } finally {
        records.findRawBy = original;
      }
      assert.equal((await signIn('paul@example.com', 'owner changed passphrase')).statusCode, 200);
      assert.equal((await signIn('paul@example.com', 'attacker long passphrase')).statusCode, 400);
      // The token is not left half-used either: the transaction rolled back, but its binding is gone.
      assert.equal(code(await post('/api/collections/users/confirm-password-reset', { token, password: 'attacker long passphrase', passwordConfirm: 'attacker long passphrase' }, { ip })), 'email_token_invalid');
    });

    it('strict-mail-address: lists, display names, group syntax and quoted or non-ASCII addresses are refused', async () => {
      for (const email of ['a@example.com,b@example.com', 'a@example.com;b@example.com', '<a@example.com>', 'Ann <a@example.com>', 'team:a@example.com;', 'a:b@example.com',
        '"a b"@example.com', 'a@example', 'a..b@example.com', '.a@example.com', 'ä@example.com', 'a@exa_mple.com', 'a@1.2.3.4', 'a@[127.0.0.1]', 'a@example.com\r\nBcc: x@example.com']) {
        for (const path of ['request-password-reset', 'request-verification', 'request-otp']) {
          const r = await post(`/api/collections/users/${path}`, { email }, { ip: freshIp() });
          assert.equal(r.statusCode, 400, `${path} ${email}: ${r.body}`);
          assert.equal(code(r), 'validation_failed');
        }
      }
      const ok = await post('/api/collections/users/request-password-reset', { email: "o'brien+tag@mail.example.co.uk" }, { ip: freshIp() });
      assert.equal(ok.statusCode, 204);
    });

    it('audits every flow without tokens or codes', async () => {
      await t.app.authEmail.drain();
      const entries = await t.app.audit.list(0, 10_000, 'auth.');
      const actions = new Set(entries.map((e) => `${e.action}:${e.outcome}`));
      for (const a of ['auth.verification_request:success', 'auth.verification_request:failure', 'auth.verified:success', 'auth.verified:failure',
        'auth.password_reset_request:success', 'auth.password_reset_request:failure', 'auth.password_reset:success', 'auth.password_reset:failure',
        'auth.email_change_request:success', 'auth.email_change:success', 'auth.email_change:failure', 'auth.otp_request:success', 'auth.otp_request:failure']) {
        assert.ok(actions.has(a), `missing audit ${a}`);
      }
      const otpSignIns = entries.filter((e) => e.action === 'auth.signin' && (e.details as { method?: string }).method === 'otp');
      assert.ok(otpSignIns.some((e) => e.outcome === 'success') && otpSignIns.some((e) => e.outcome === 'failure'));
      const text = JSON.stringify(entries);
      for (const m of smtp.mails) {
        const tok = /The token: (\S+)/.exec(m.text)?.[1];
        if (tok) assert.ok(!text.includes(tok), 'no token in the audit trail');
      }
    });
  });

  describe(`auth email flows without SMTP (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect);
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', fields: [], otp: { enabled: true } });
      const r = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'known@example.com', password: PASSWORD, passwordConfirm: PASSWORD } });
      assert.equal(r.statusCode, 200, r.body);
    });
    after(async () => t?.dispose());

    it('answers 503 mail_unavailable for known and unknown addresses alike', async () => {
      for (const path of ['request-verification', 'request-password-reset', 'request-otp']) {
        const known = await t.app.http.inject({ method: 'POST', url: `/api/collections/users/${path}`, payload: { email: 'known@example.com' } });
        const unknown = await t.app.http.inject({ method: 'POST', url: `/api/collections/users/${path}`, payload: { email: 'unknown@example.com' } });
        assert.equal(known.statusCode, 503, path);
        assert.equal((known.json() as { code: string }).code, 'mail_unavailable');
        assert.equal(known.body.replace(/"(traceId|requestId|instance)":"[^"]*"/g, ''), unknown.body.replace(/"(traceId|requestId|instance)":"[^"]*"/g, ''), path);
      }
    });

    it('still signs in without SMTP (no notice to send)', async () => {
      for (const ua of ['a', 'b']) {
        const r = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', headers: { 'user-agent': ua }, payload: { identity: 'known@example.com', password: PASSWORD } });
        assert.equal(r.statusCode, 200, r.body);
      }
    });
  });
}

describe('rate-limit client keys (ipv6-per-64)', () => {
  const cases: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0000:ffff:ffff:ffff:ffff', '2001:db8:0:0::/64'],
    ['[2001:db8::1]', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:0:1::1', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8::203.0.113.7', '2001:db8:0:0::/64'],
  ];
  for (const [ip, key] of cases) it(`${ip} → ${key}`, () => assert.equal(ipKey(ip), key));
});
