/**
 * The mail tool without a server: SMTP configuration from file, environment and flags (validated,
 * password redacted when printed) and template rendering (placeholders, one-line subjects).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redactedConfig } from '../../src/app/index.ts';
import { renderTemplate } from '../../src/mail/index.ts';

describe('smtp configuration', () => {
  it('is off by default', () => {
    const c = loadConfig({}, {});
    assert.equal(c.smtp.host, '');
    assert.equal(c.appName, 'Basalt');
  });

  it('reads BASALT_SMTP_* and BASALT_APP_NAME', () => {
    const c = loadConfig({}, {
      BASALT_SMTP_HOST: 'smtp.example.com', BASALT_SMTP_PORT: '465', BASALT_SMTP_SECURE: 'true', BASALT_SMTP_USERNAME: 'mailer',
      BASALT_SMTP_PASSWORD: 's3cret-smtp', BASALT_SMTP_FROM_ADDRESS: 'noreply@example.com', BASALT_SMTP_FROM_NAME: 'Acme', BASALT_APP_NAME: 'Acme',
    });
    assert.deepEqual(c.smtp, { host: 'smtp.example.com', port: 465, secure: true, security: 'tls', allowInsecure: false, username: 'mailer', password: 's3cret-smtp', from: { name: 'Acme', address: 'noreply@example.com' } });
    assert.equal(c.appName, 'Acme');
  });

  it('defaults the port from secure', () => {
    assert.equal(loadConfig({ smtp: { host: 'h.example.com', from: { address: 'a@example.com' } } }, {}).smtp.port, 587);
    assert.equal(loadConfig({ smtp: { host: 'h.example.com', secure: true, from: { address: 'a@example.com' } } }, {}).smtp.port, 465);
  });

  it('redacts the password when printed', () => {
    const c = loadConfig({}, { BASALT_SMTP_HOST: 'smtp.example.com', BASALT_SMTP_PASSWORD: 's3cret-smtp', BASALT_SMTP_FROM_ADDRESS: 'noreply@example.com' });
    const printed = JSON.stringify(redactedConfig(c));
    assert.ok(!printed.includes('s3cret-smtp'));
    assert.match(printed, /"password":"\*\*\*"/);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['a port out of range', { host: 'h.example.com', port: 70000, from: { address: 'a@example.com' } }],
    ['a host without a sender address', { host: 'h.example.com' }],
    ['an unknown member', { host: 'h.example.com', from: { address: 'a@example.com' }, tls: true }],
    ['a header-breaking sender name', { host: 'h.example.com', from: { address: 'a@example.com', name: 'x\r\nBcc: evil@example.com' } }],
    ['a non-boolean secure', { host: 'h.example.com', secure: 'yes', from: { address: 'a@example.com' } }],
  ];
  for (const [name, smtp] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => loadConfig({ smtp }, {}), ConfigError));
  }
});

describe('mail templates', () => {
  it('fills known placeholders and leaves others', () => {
    const r = renderTemplate({ subject: 'Code for {APP_NAME}', body: 'Code {OTP} for {EMAIL}; {UNKNOWN} stays.' }, { APP_NAME: 'Acme', OTP: '123456', EMAIL: 'a@example.com' });
    assert.deepEqual(r, { subject: 'Code for Acme', text: 'Code 123456 for a@example.com; {UNKNOWN} stays.' });
  });

  it('does not expand placeholders inside values', () => {
    assert.equal(renderTemplate({ subject: '', body: '{DEVICE} {OTP}' }, { DEVICE: '{OTP}', OTP: '999' }).text, '{OTP} 999');
  });

  it('keeps the subject on one line whatever a value holds', () => {
    const r = renderTemplate({ subject: 'New sign-in: {DEVICE}', body: '' }, { DEVICE: 'Evil\r\nBcc: victim@example.com' });
    assert.ok(!/[\r\n]/.test(r.subject));
  });
});
