/**
 * smtp-starttls-required: the SMTP connection's security (`smtp.security`) against real `smtp-server`
 * peers on 127.0.0.1 — STARTTLS is required by default (a server that does not offer it, or one whose
 * certificate does not verify, gets neither the login nor the mail), `none` is for loopback relays
 * only unless forced, and the mailer sends to one strictly valid address, passed as an address object.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { ConfigError, loadConfig } from '../../src/app/index.ts';
import { createMailer, isMailAddress, validateSmtpConfig, type SmtpConfig } from '../../src/mail/index.ts';

interface Peer { port: number; received: { to: string[]; authed: boolean }[]; close(): Promise<void> }

/** A test SMTP server; `starttls` offers STARTTLS with smtp-server's built-in self-signed certificate. */
async function peer(starttls: boolean): Promise<Peer> {
  const received: Peer['received'] = [];
  let authed = false;
  const server = new SMTPServer({
    ...(starttls ? {} : { disabledCommands: ['STARTTLS'] }),
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    onAuth(_auth, _session, cb) {
      authed = true;
      cb(null, { user: 'basalt' });
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), authed });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.server.address() as AddressInfo).port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const base = (port: number, extra: Record<string, unknown>): SmtpConfig => validateSmtpConfig({
  host: '127.0.0.1', port, username: 'basalt', password: 'smtp-test-password', from: { name: 'Basalt', address: 'noreply@example.com' }, ...extra,
});
const mail = { subject: 'Hello', text: 'Body' };

describe('smtp-starttls-required: connection security against real servers', () => {
  let plain: Peer;
  let tlsOffered: Peer;
  before(async () => {
    plain = await peer(false);
    tlsOffered = await peer(true);
  });
  after(async () => {
    await plain.close();
    await tlsOffered.close();
  });

  it('starttls: a server that does not offer STARTTLS gets no login and no mail', async () => {
    const m = createMailer(base(plain.port, { security: 'starttls' }));
    try {
      await assert.rejects(m.send('ann@example.com', mail));
      assert.equal(plain.received.length, 0);
    } finally {
      m.close();
    }
  });

  it('starttls: a certificate that does not verify (self-signed) fails the send', async () => {
    const m = createMailer(base(tlsOffered.port, { security: 'starttls' }));
    try {
      await assert.rejects(m.send('ann@example.com', mail));
      assert.equal(tlsOffered.received.length, 0);
    } finally {
      m.close();
    }
  });

  it('none (loopback default): delivers without TLS to a relay on this machine', async () => {
    const cfg = base(plain.port, {});
    assert.equal(cfg.security, 'none');
    const m = createMailer(cfg);
    try {
      await m.send('ann@example.com', mail);
      assert.deepEqual(plain.received.at(-1)?.to, ['ann@example.com']);
    } finally {
      m.close();
    }
  });

  it('refuses to send to a malformed or multiple-recipient address, whatever the caller passes', async () => {
    const m = createMailer(base(plain.port, {}));
    const before = plain.received.length;
    try {
      for (const to of ['a@example.com, b@example.com', 'Ann <a@example.com>', 'a@example.com\r\nBcc: b@example.com', '']) await assert.rejects(m.send(to, mail), to);
      assert.equal(plain.received.length, before);
    } finally {
      m.close();
    }
  });
});

describe('smtp.security configuration', () => {
  const from = { address: 'noreply@example.com' };
  const cases: { name: string; smtp: Record<string, unknown>; security: string; port: number; secure: boolean }[] = [
    { name: 'a remote host requires STARTTLS by default', smtp: { host: 'smtp.example.com', from }, security: 'starttls', port: 587, secure: false },
    { name: 'secure: true means TLS from the first byte', smtp: { host: 'smtp.example.com', secure: true, from }, security: 'tls', port: 465, secure: true },
    { name: 'security: tls', smtp: { host: 'smtp.example.com', security: 'tls', from }, security: 'tls', port: 465, secure: true },
    { name: 'a loopback host defaults to none', smtp: { host: 'localhost', from }, security: 'none', port: 587, secure: false },
    { name: '::1 is loopback', smtp: { host: '::1', from }, security: 'none', port: 587, secure: false },
    { name: 'a loopback host may still require STARTTLS', smtp: { host: '127.0.0.1', security: 'starttls', from }, security: 'starttls', port: 587, secure: false },
    { name: 'none for a remote host when forced', smtp: { host: 'relay.internal.example', security: 'none', allowInsecure: true, from }, security: 'none', port: 587, secure: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = loadConfig({ smtp: c.smtp }, {}).smtp;
      assert.deepEqual([s.security, s.port, s.secure], [c.security, c.port, c.secure]);
    });
  }

  it('reads BASALT_SMTP_SECURITY and BASALT_SMTP_ALLOW_INSECURE', () => {
    const s = loadConfig({}, { BASALT_SMTP_HOST: 'relay.example.com', BASALT_SMTP_SECURITY: 'none', BASALT_SMTP_ALLOW_INSECURE: 'true', BASALT_SMTP_FROM_ADDRESS: 'noreply@example.com' }).smtp;
    assert.equal(s.security, 'none');
    assert.equal(s.allowInsecure, true);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['none for a remote host without allowInsecure', { host: 'smtp.example.com', security: 'none', from }],
    ['none for a host that only looks local', { host: 'localhost.evil.example', security: 'none', from }],
    ['an unknown security', { host: 'smtp.example.com', security: 'ssl', from }],
    ['secure: true with starttls', { host: 'smtp.example.com', secure: true, security: 'starttls', from }],
    ['a sender address with a display name', { host: 'smtp.example.com', from: { address: 'Acme <noreply@example.com>' } }],
    ['a sender address list', { host: 'smtp.example.com', from: { address: 'a@example.com,b@example.com' } }],
  ];
  for (const [name, smtp] of bad) it(`refuses ${name}`, () => assert.throws(() => loadConfig({ smtp }, {}), ConfigError));
});

describe('strict-mail-address: isMailAddress', () => {
  const good = ['a@example.com', 'ann.lee+news@mail.example.co.uk', "o'brien@example.com", 'x_y-z@sub-domain.example.org', 'a@xn--bcher-kva.example'];
  const bad = ['', 'a', '@example.com', 'a@', 'a@example', 'a@example.', 'a@.example.com', 'a@-example.com', 'a@example-.com', 'a..b@example.com', '.a@example.com', 'a.@example.com',
    'a b@example.com', '"a b"@example.com', 'a@example.com,b@example.com', 'a@example.com;b@example.com', '<a@example.com>', 'Ann <a@example.com>', 'g:a@example.com;',
    'a:b@example.com', 'a@b@example.com', 'ä@example.com', 'a@exämple.com', 'a@1.2.3.4', 'a@[127.0.0.1]', 'a@example.com\n', 'a(comment)@example.com', 'a\\b@example.com',
    `${'a'.repeat(65)}@example.com`, `a@${'b'.repeat(64)}.com`, `a@${'b.'.repeat(130)}com`];
  for (const v of good) it(`accepts ${v}`, () => assert.equal(isMailAddress(v), true));
  for (const v of bad) it(`refuses ${JSON.stringify(v)}`, () => assert.equal(isMailAddress(v), false));
  it('refuses non-strings', () => {
    for (const v of [undefined, null, 42, {}, ['a@example.com']]) assert.equal(isMailAddress(v), false);
  });
});
