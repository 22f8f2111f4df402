/**
 * Outgoing mail over SMTP (nodemailer's SMTP transport). One {@link Mailer} per app, built from the
 * `smtp` configuration; with no host configured it is "unavailable" and callers answer 503.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { smtpSecurity, type SmtpConfig } from './mail-config.ts';
import { isMailAddress } from './mail-address.ts';
import type { RenderedMail } from './mail-template.ts';

/** Sends email, or says it cannot. */
export interface Mailer {
  /** False when no SMTP server is configured. */
  readonly available: boolean;
  /**
   * Send one plain-text message to one address (refused unless {@link isMailAddress}). Rejects on SMTP
   * errors (never with the password in the message).
   */
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
  const security = smtpSecurity(smtp);
  const transport: Transporter = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: security === 'tls',
    // `starttls`: no STARTTLS offered (or stripped on the way) fails the send rather than sending the
    // login and the mail in clear text. `none`: never upgrade (a relay on this machine).
    requireTLS: security === 'starttls',
    ignoreTLS: security === 'none',
    // Certificates are verified (Node's default); old protocol versions are refused.
    tls: { minVersion: 'TLSv1.2' },
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
      if (!isMailAddress(to)) throw new Error('refusing to send to a malformed address');
      // Objects, not strings: nodemailer then takes the address as one address, never parsing it as a
      // list or a display name.
      await transport.sendMail({ from: { name: smtp.from.name, address: smtp.from.address }, to: { name: '', address: to }, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}
