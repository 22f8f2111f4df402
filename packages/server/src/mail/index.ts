/**
 * Outgoing email: the SMTP mailer (nodemailer), its configuration, and template rendering. A tool with
 * no domain knowledge: the auth flows decide what to send and to whom.
 */
export { createMailer, type Mailer } from './mail-transport.ts';
export { renderTemplate, type MailTemplate, type RenderedMail } from './mail-template.ts';
export { validateSmtpConfig, smtpSecurity, isLoopbackHost, type SmtpConfig, type SmtpSecurity } from './mail-config.ts';
export { isMailAddress } from './mail-address.ts';
