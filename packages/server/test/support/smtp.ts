/**
 * A real SMTP server for tests (`smtp-server` on 127.0.0.1, a free port), collecting every message
 * it receives parsed with `mailparser`, and the `smtp` configuration that points Basalt at it.
 */
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';
import type { SmtpConfig } from '../../src/mail/index.ts';

/** One received email. */
export interface ReceivedMail {
  /** Envelope recipients. */
  to: string[];
  from: string;
  subject: string;
  text: string;
  /** Raw headers as parsed. */
  headers: Map<string, unknown>;
}

/** A running test SMTP server. */
export interface TestSmtp {
  /** Every message so far, oldest first. */
  mails: ReceivedMail[];
  /** Basalt's `smtp` configuration for this server. */
  config: SmtpConfig;
  /** The first message (received so far or later) to `to` that matches `pred`, after index `from`. */
  waitFor(to: string, pred?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Messages received for `to`. */
  to(address: string): ReceivedMail[];
  close(): Promise<void>;
}

/** Start an SMTP server that accepts anything (login `basalt` / `smtp-test-password`). */
export async function startSmtp(): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'basalt' && auth.password === 'smtp-test-password') cb(null, { user: 'basalt' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream).then((parsed) => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          headers: parsed.headers as Map<string, unknown>,
        });
        for (const w of waiters) w();
        cb();
      }, (e: Error) => cb(e));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  const forAddress = (address: string) => mails.filter((m) => m.to.includes(address));
  return {
    mails,
    config: { host: '127.0.0.1', port, secure: false, username: 'basalt', password: 'smtp-test-password', from: { name: 'Basalt Tests', address: 'noreply@example.com' } },
    to: forAddress,
    async waitFor(to, pred = () => true, timeoutMs = 10_000) {
      const find = () => forAddress(to).find(pred);
      const found = find();
      if (found) return found;
      return new Promise<ReceivedMail>((resolve, reject) => {
        const check = () => {
          const m = find();
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms (received ${mails.length} in all)`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The token in a verification / reset / email-change mail (the line after "The token:"). */
export function tokenFrom(mail: ReceivedMail): string {
  const m = /The token: (\S+)/.exec(mail.text);
  if (!m) throw new Error(`no token in mail: ${mail.text}`);
  return m[1];
}

/** The code in an OTP mail. */
export function otpFrom(mail: ReceivedMail): string {
  const m = /\b(\d{6,20})\b/.exec(mail.text);
  if (!m) throw new Error(`no OTP in mail: ${mail.text}`);
  return m[1];
}
