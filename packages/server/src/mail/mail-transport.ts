/**
 * Outgoing mail over SMTP (nodemailer's SMTP transport). One {@link Mailer} per app, built from the
 * `smtp` configuration; with no host configured it is "unavailable" and callers answer 503.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { SmtpConfig } from './mail-config.ts';
import type { RenderedMail } from './mail-template.ts';

/** Sends email, or says it cannot. */
export interface Mailer {
  /** False when no SMTP server is configured. */
  readonly available: boolean;
  /** Send one plain-text message to one address. Rejects on SMTP errors (never with the password in the message). */
  send(to: string, mail: RenderedMail): Promise<void>;
  /** Release the transport. */
  close(): void;
}

/** A mailer over the configured SMTP server (an unavailable one when `smtp.host` is empty). */
export function createMailer(smtp: SmtpConfig): Mailer {
  if (!smtp.host) {
    return {
      available: false,
      send: async () => {
        throw new Error('no SMTP server is configured');
      },
      close: () => {},
    };
  }
  const transport: Transporter = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.username ? { auth: { user: smtp.username, pass: smtp.password } } : {}),
    // A slow or dead server must not pile up pending sends forever.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    available: true,
    async send(to, mail) {
      await transport.sendMail({ from: { name: smtp.from.name, address: smtp.from.address }, to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}
