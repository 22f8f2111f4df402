/**
 * Email templates: a subject and a plain-text body with `{PLACEHOLDER}` values (PocketBase's style:
 * `{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`, `{EMAIL}`, `{DEVICE}`…). Plain text only, so no value
 * can inject markup; the subject is kept on one line so no value can inject a header.
 */

/** A template as collections store it (`verificationTemplate`, `otp.emailTemplate`, …). */
export interface MailTemplate {
  subject: string;
  body: string;
}

/** A rendered message, ready for {@link Mailer.send}. */
export interface RenderedMail {
  subject: string;
  text: string;
}

/**
 * Replace every `{NAME}` whose NAME is in `values`; unknown placeholders stay as written. Values are
 * inserted once (a value that itself looks like a placeholder is not expanded again).
 *
 * @example
 * renderTemplate({ subject: 'OTP for {APP_NAME}', body: 'Code: {OTP}' }, { APP_NAME: 'Acme', OTP: '123456' });
 * // → { subject: 'OTP for Acme', text: 'Code: 123456' }
 */
export function renderTemplate(template: MailTemplate, values: Readonly<Record<string, string>>): RenderedMail {
  const fill = (s: string): string => s.replace(/\{([A-Z_]+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? values[name] : whole));
  return {
    // One line, bounded: header injection is impossible whatever a value holds.
    subject: fill(template.subject).replace(/[\r\n\t]+/g, ' ').slice(0, 500),
    text: fill(template.body),
  };
}
