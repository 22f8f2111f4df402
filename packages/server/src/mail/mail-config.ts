/**
 * The SMTP settings of the one typed configuration (`smtp` in config.ts), validated and completed here
 * so the mailer reads one whole object.
 */

/** How Basalt reaches its outgoing mail server. Mail is off while `host` is empty. */
export interface SmtpConfig {
  /** Host name of the SMTP server; empty = no outgoing mail (the mail endpoints answer 503). */
  host: string;
  /** 587 (submission with STARTTLS) unless set; 465 with `secure`. */
  port: number;
  /** TLS from the first byte (port 465). Without it the connection upgrades with STARTTLS when the server offers it. */
  secure: boolean;
  /** Login; empty = no authentication. */
  username: string;
  /** Secret: redacted when the configuration is printed, never logged. */
  password: string;
  /** The sender of every email. */
  from: { name: string; address: string };
}

const EMAIL = /^[^\s@<>]{1,64}@[^\s@<>]+\.[^\s@<>]+$/;

function bool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${name} must be true or false`);
}

function str(name: string, v: unknown, max: number): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' || v.length > max || /[\r\n]/.test(v)) throw new Error(`${name} must be a one-line string of at most ${max} characters`);
  return v;
}

/**
 * Validate `smtp` as given in a config file, environment or flags (every member optional) and fill in
 * the defaults. Throws an `Error` whose message names the bad member.
 */
export function validateSmtpConfig(raw: Record<string, unknown>): SmtpConfig {
  const known = new Set(['host', 'port', 'secure', 'username', 'password', 'from']);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length) throw new Error(`unknown smtp keys: ${unknown.join(', ')}`);
  const host = str('smtp.host', raw.host, 253);
  const secure = raw.secure === undefined ? false : bool('smtp.secure', raw.secure);
  const port = raw.port === undefined || raw.port === '' ? (secure ? 465 : 587) : Number(raw.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('smtp.port must be an integer between 1 and 65535');
  const fromRaw = raw.from ?? {};
  if (typeof fromRaw !== 'object' || fromRaw === null || Array.isArray(fromRaw)) throw new Error('smtp.from must be an object {name, address}');
  const f = fromRaw as Record<string, unknown>;
  const from = { name: str('smtp.from.name', f.name, 100), address: str('smtp.from.address', f.address, 254) };
  if (host && !EMAIL.test(from.address)) throw new Error('smtp.from.address must be an email address when smtp.host is set');
  return { host, port, secure, username: str('smtp.username', raw.username, 500), password: str('smtp.password', raw.password, 500), from };
}
