/**
 * The official `pocketbase` SDK's email flows against a listening Basalt and a real SMTP server:
 * requestVerification / confirmVerification, requestPasswordReset / confirmPasswordReset,
 * requestEmailChange / confirmEmailChange, requestOTP / authWithOTP, with the tokens and codes read
 * from the received mail.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';
import { startSmtp, tokenFrom, otpFrom, type TestSmtp } from '../support/smtp.ts';

const PASSWORD = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`pocketbase SDK email flows (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtp;
    let url: string;
    const client = () => {
      const pb = new PocketBase(url);
      pb.autoCancellation(false);
      return pb;
    };

    before(async () => {
      smtp = await startSmtp();
      t = await startTestApp(dialect, { smtp: smtp.config, appName: 'SDK App' });
      url = await t.app.listen();
      await createCollection(t, { name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id', fields: [], otp: { enabled: true } });
      await client().collection('users').create({ email: 'sdk@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
    });
    after(async () => {
      await t?.dispose();
      await smtp?.close();
    });

    it('requestVerification + confirmVerification', async () => {
      const pb = client();
      assert.equal(await pb.collection('users').requestVerification('sdk@example.com'), true);
      const token = tokenFrom(await smtp.waitFor('sdk@example.com', (m) => m.subject === 'Verify your SDK App email'));
      assert.equal(await pb.collection('users').confirmVerification(token), true);
      const auth = await pb.collection('users').authWithPassword('sdk@example.com', PASSWORD);
      assert.equal(auth.record.verified, true);
      // A used token is a 400 the SDK surfaces as ClientResponseError.
      await assert.rejects(pb.collection('users').confirmVerification(token), (e: unknown) => e instanceof ClientResponseError && e.status === 400 && e.response.code === 'email_token_invalid');
    });

    it('requestPasswordReset + confirmPasswordReset', async () => {
      const pb = client();
      assert.equal(await pb.collection('users').requestPasswordReset('sdk@example.com'), true);
      assert.equal(await pb.collection('users').requestPasswordReset('nobody@example.com'), true, 'unknown addresses look the same');
      const token = tokenFrom(await smtp.waitFor('sdk@example.com', (m) => m.subject === 'Reset your SDK App password'));
      assert.equal(await pb.collection('users').confirmPasswordReset(token, 'brand new passphrase', 'brand new passphrase'), true);
      await assert.rejects(pb.collection('users').authWithPassword('sdk@example.com', PASSWORD), (e: unknown) => e instanceof ClientResponseError && e.status === 400);
      const auth = await pb.collection('users').authWithPassword('sdk@example.com', 'brand new passphrase');
      assert.equal(auth.record.email, 'sdk@example.com');
    });

    it('requestOTP + authWithOTP', async () => {
      const pb = client();
      const { otpId } = await pb.collection('users').requestOTP('sdk@example.com');
      assert.match(otpId, /^[a-z0-9]{15}$/);
      const code = otpFrom(await smtp.waitFor('sdk@example.com', (m) => m.subject === 'OTP for SDK App'));
      const auth = await pb.collection('users').authWithOTP(otpId, code);
      assert.equal(auth.record.email, 'sdk@example.com');
      assert.equal(pb.authStore.isValid, true);
      assert.equal(pb.authStore.record?.id, auth.record.id);
      await assert.rejects(client().collection('users').authWithOTP(otpId, code), (e: unknown) => e instanceof ClientResponseError && e.status === 400 && e.response.code === 'otp_invalid');
    });

    it('requestEmailChange + confirmEmailChange', async () => {
      const pb = client();
      await pb.collection('users').authWithPassword('sdk@example.com', 'brand new passphrase');
      assert.equal(await pb.collection('users').requestEmailChange('sdk.new@example.com'), true);
      const token = tokenFrom(await smtp.waitFor('sdk.new@example.com', (m) => m.subject === 'Confirm your new SDK App email'));
      assert.equal(await pb.collection('users').confirmEmailChange(token, 'brand new passphrase'), true);
      // The old session ended with the change; signing in with the new address works.
      await assert.rejects(pb.collection('users').authRefresh(), (e: unknown) => e instanceof ClientResponseError && e.status === 401);
      const auth = await client().collection('users').authWithPassword('sdk.new@example.com', 'brand new passphrase');
      assert.equal(auth.record.verified, true);
    });
  });
}
