/**
 * Regression (security review item 10): email uniqueness was case-sensitive, so `ALICE@example.com`
 * signed up beside `alice@example.com` and an email change could move onto it. Emails of auth records
 * are now compared and indexed case-insensitively on both dialects (sign-up, email change request and
 * confirm, sign-in, OTP / verification / password-reset requests, superuser upsert), the stored email
 * stays as typed, and existing databases get the new index at start — refusing to start when rows
 * already clash.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { startSmtp, tokenFrom, otpFrom, type TestSmtp } from '../support/smtp.ts';
import { createApp, loadConfig } from '../../src/app/index.ts';

const password = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`auth emails are case-insensitive (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtp;
    let ip = 0;
    const post = (url: string, payload: unknown, token?: string) =>
      t.app.http.inject({ method: 'POST', url, payload: payload as object, remoteAddress: `10.7.0.${++ip % 250}`, headers: token ? { authorization: token } : {} });
    const signUp = (email: string) => post('/api/collections/users/records', { email, password, passwordConfirm: password });
    const signIn = (identity: string, pw = password) => post('/api/collections/users/auth-with-password', { identity, password: pw });

    before(async () => {
      smtp = await startSmtp();
      t = await startTestApp(dialect, { smtp: smtp.config, rateLimits: { ...loadConfig({}, {}).rateLimits, signUpPerIp: 0, signInPerIp: 0, signInPerIdentity: 0, failureDelayMs: 0 } });
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [], otp: { enabled: true, length: 6, duration: 300 } });
    });
    after(async () => {
      await t?.dispose();
      await smtp?.close();
    });

    it('a sign-up whose email differs only in case is refused; the stored email keeps its case', async () => {
      const first = await signUp('Alice@example.com');
      assert.equal(first.statusCode, 200, first.body);
      for (const variant of ['alice@example.com', 'ALICE@EXAMPLE.COM']) {
        const twin = await signUp(variant);
        assert.equal(twin.statusCode, 400, twin.body);
        assert.equal(twin.json().code, 'validation_failed');
        assert.equal(twin.json().data.email.code, 'validation_not_unique');
      }
      const stored = await t.app.http.inject({ method: 'GET', url: `/api/collections/users/records/${String(first.json().id)}`, headers: { authorization: t.superuserToken } });
      assert.equal(stored.json().email, 'Alice@example.com');
    });

    it('the unique index itself ignores case (a write around the records service is refused too)', async () => {
      await assert.rejects(t.app.db.run('INSERT INTO users (id, email, password, "tokenKey", verified, "emailVisibility") VALUES (?, ?, ?, ?, ?, ?)', ['rawcaseclash001', 'alice@EXAMPLE.com', 'x', 'k'.repeat(50), false, false]), (e) => t.app.db.dialect.isUniqueViolation(e));
    });

    it('sign-in finds the account whatever the case of the identity', async () => {
      for (const identity of ['alice@example.com', 'ALICE@EXAMPLE.COM', 'Alice@example.com']) {
        const res = await signIn(identity);
        assert.equal(res.statusCode, 200, `${identity}: ${res.body}`);
      }
      assert.equal((await signIn('ALICE@example.com', 'wrong password 1')).statusCode, 400);
    });

    it('an email change onto another account\'s address in another case is refused (superuser PATCH, request and confirm)', async () => {
      const bob = await signUp('bob@example.com');
      const bobId = String(bob.json().id);
      const patch = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${bobId}`, headers: { authorization: t.superuserToken }, payload: { email: 'ALICE@example.COM' } });
      assert.equal(patch.statusCode, 400, patch.body);
      assert.equal(patch.json().data.email.code, 'validation_not_unique');
      const token = (await signIn('bob@example.com')).json().token as string;
      const request = await post('/api/collections/users/request-email-change', { newEmail: 'aLiCe@example.com' }, token);
      assert.equal(request.statusCode, 400, request.body);
      assert.equal(request.json().data.newEmail.code, 'validation_not_unique');
      // A change requested while the address was free, confirmed after another account took it in another case.
      const ok = await post('/api/collections/users/request-email-change', { newEmail: 'carol@example.com' }, token);
      assert.equal(ok.statusCode, 204, ok.body);
      const mail = await smtp.waitFor('carol@example.com');
      assert.equal((await signUp('CAROL@example.com')).statusCode, 200);
      const confirm = await post('/api/collections/users/confirm-email-change', { token: tokenFrom(mail), password });
      assert.equal(confirm.statusCode, 400, confirm.body);
      assert.equal((await t.app.records.findRawBy('users', 'id', bobId))!.email, 'bob@example.com');
      // The account's own address in another case is a change of spelling, allowed.
      const respell = await post('/api/collections/users/request-email-change', { newEmail: 'Bob@Example.com' }, token);
      assert.equal(respell.statusCode, 204, respell.body);
    });

    it('OTP, verification and password-reset requests find the account in any case, and mail the stored address', async () => {
      const from = smtp.mails.length;
      assert.equal((await post('/api/collections/users/request-verification', { email: 'ALICE@EXAMPLE.COM' })).statusCode, 204);
      const verification = await smtp.waitFor('Alice@example.com', (m) => smtp.mails.indexOf(m) >= from && /verify/i.test(m.subject));
      assert.equal((await post('/api/collections/users/confirm-verification', { token: tokenFrom(verification) })).statusCode, 204);
      assert.equal((await post('/api/collections/users/request-password-reset', { email: 'alice@example.com' })).statusCode, 204);
      await smtp.waitFor('Alice@example.com', (m) => smtp.mails.indexOf(m) >= from && /reset/i.test(m.subject));
      const otp = await post('/api/collections/users/request-otp', { email: 'aLICE@example.com' });
      assert.equal(otp.statusCode, 200, otp.body);
      const otpMail = await smtp.waitFor('Alice@example.com', (m) => smtp.mails.indexOf(m) >= from && /OTP/.test(m.subject));
      const signed = await post('/api/collections/users/auth-with-otp', { otpId: otp.json().otpId, password: otpFrom(otpMail) });
      assert.equal(signed.statusCode, 200, signed.body);
    });

    it('superuser upsert updates the superuser whatever the case', async () => {
      assert.equal(await t.app.auth.upsertSuperuser('ROOT@example.com', 'another-long-password'), 'updated');
      await t.app.auth.upsertSuperuser('root@example.com', 'a-long-test-password');
    });
  });

  describe(`the case-insensitive email index at start (${dialect})`, () => {
    it('an existing database gets the index; rows that already clash refuse the start, naming them', async () => {
      const t = await startTestApp(dialect);
      try {
        await createCollection(t, { name: 'users', type: 'auth', fields: [] });
        const a = await createRecord(t, 'users', { email: 'dup@example.com', password, passwordConfirm: password });
        // A database from before: the case-sensitive index only.
        const c = t.app.registry.get('users');
        const idx = t.app.db.dialect.name === 'sqlite'
          ? await t.app.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND name LIKE 'buqci_%'")
          : await t.app.db.all<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'users' AND indexname LIKE 'buqci_%'");
        assert.equal(idx.length, 1, `the collection has the case-insensitive index (${c.id})`);
        await t.app.db.run(`DROP INDEX ${t.app.db.dialect.quoteIdent(idx[0].name)}`);
        await t.app.db.run('CREATE UNIQUE INDEX old_email_index ON users (email) WHERE email != \'\'');
        const config = t.app.config;
        await t.app.close();
        const upgraded = await createApp(config, { logger: pino({ level: 'silent' }) });
        await assert.rejects(upgraded.db.run('INSERT INTO users (id, email, password, "tokenKey", verified, "emailVisibility") VALUES (?, ?, ?, ?, ?, ?)', ['rawcaseclash002', 'DUP@example.com', 'x', 'k'.repeat(50), false, false]), (e) => upgraded.db.dialect.isUniqueViolation(e), 'the index exists after the upgrade');
        // Now a clash written while no case-insensitive index existed.
        const now = await upgraded.db.all<{ name: string }>(upgraded.db.dialect.name === 'sqlite'
          ? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND name LIKE 'buqci_%'"
          : "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'users' AND indexname LIKE 'buqci_%'");
        await upgraded.db.run(`DROP INDEX ${upgraded.db.dialect.quoteIdent(now[0].name)}`);
        await upgraded.db.run('INSERT INTO users (id, email, password, "tokenKey", verified, "emailVisibility") VALUES (?, ?, ?, ?, ?, ?)', ['rawcaseclash003', 'DUP@example.com', 'x', 'k'.repeat(50), false, false]);
        await upgraded.close();
        await assert.rejects(createApp(config, { logger: pino({ level: 'silent' }) }), (e: Error) => e.message.includes(String(a.id)) && e.message.includes('rawcaseclash003'));
      } finally {
        await t.dispose();
      }
    });
  });
}
