/**
 * The SMTP settings of the one typed configuration (`smtp` in config.ts), validated and completed here
 * so the mailer reads one whole object.
 */
import { isIP } from 'node:net';
import { isMailAddress } from './mail-address.ts';

/**
 * How the connection to the SMTP server is protected:
 * - `tls`: TLS from the first byte (SMTPS, port 465);
 * - `starttls`: plain connect, then STARTTLS is **required** — a server that does not offer it (or a
 *   man in the middle that strips it) fails the send instead of getting the mail and the password in
 *   clear text;
 * - `none`: no TLS at all (never upgraded), for a mail relay on the same machine.
 */
export type SmtpSecurity = 'tls' | 'starttls' | 'none';

/** How Basalt reaches its outgoing mail server. Mail is off while `host` is empty. */
export interface SmtpConfig {
  /** Host name of the SMTP server; empty = no outgoing mail (the mail endpoints answer 503). */
  host: string;
  /** 587 (submission) unless set; 465 with `security: "tls"`. */
  port: number;
  /** Older form of `security: "tls"`; kept equal to `security === "tls"`. */
  secure: boolean;
  /**
   * Connection security (see {@link SmtpSecurity}). {@link validateSmtpConfig} always sets it; when an
   * object is built by hand without it, {@link smtpSecurity} derives it the same way as the default.
   */
  security?: SmtpSecurity;
  /** Allow `security: "none"` for a host that is not a loopback address (the password then travels in clear). */
  allowInsecure?: boolean;
  /** Login; empty = no authentication. */
  username: string;
  /** Secret: redacted when the configuration is printed, never logged. */
  password: string;
  /** The sender of every email. */
  from: { name: string; address: string };
}

const SECURITIES: readonly SmtpSecurity[] = ['tls', 'starttls', 'none'];

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1: a server on this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * The security a configuration asks for: its `security`, else `tls` with `secure`, else `none` for a
 * loopback host and `starttls` (required) for any other.
 */
export function smtpSecurity(smtp: Pick<SmtpConfig, 'host' | 'secure' | 'security'>): SmtpSecurity {
  if (smtp.security) return smtp.security;
  if (smtp.secure) return 'tls';
  return isLoopbackHost(smtp.host) ? 'none' : 'starttls';
}

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
  const known = new Set(['host', 'port', 'secure', 'security', 'allowInsecure', 'username', 'password', 'from']);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length) throw new Error(`unknown smtp keys: ${unknown.join(', ')}`);
  const host = str('smtp.host', raw.host, 253);
  const secure = raw.secure === undefined || raw.secure === '' ? undefined : bool('smtp.secure', raw.secure);
  let security: SmtpSecurity | undefined;
  if (raw.security !== undefined && raw.security !== '') {
    if (typeof raw.security !== 'string' || !(SECURITIES as readonly string[]).includes(raw.security)) throw new Error('smtp.security must be "tls", "starttls" or "none"');
    security = raw.security as SmtpSecurity;
  }
  if (secure === true && security !== undefined && security !== 'tls') throw new Error(`smtp.secure: true contradicts smtp.security: "${security}"`);
  security = smtpSecurity({ host, secure: secure === true, security });
  const allowInsecure = raw.allowInsecure === undefined || raw.allowInsecure === '' ? false : bool('smtp.allowInsecure', raw.allowInsecure);
  if (host && security === 'none' && !isLoopbackHost(host) && !allowInsecure) {
    throw new Error('smtp.security "none" sends mail and the SMTP password unencrypted: it is allowed only for a loopback host (localhost, 127.0.0.1, ::1) unless smtp.allowInsecure is true');
  }
  const port = raw.port === undefined || raw.port === '' ? (security === 'tls' ? 465 : 587) : Number(raw.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('smtp.port must be an integer between 1 and 65535');
  const fromRaw = raw.from ?? {};
  if (typeof fromRaw !== 'object' || fromRaw === null || Array.isArray(fromRaw)) throw new Error('smtp.from must be an object {name, address}');
  const f = fromRaw as Record<string, unknown>;
  const from = { name: str('smtp.from.name', f.name, 100), address: str('smtp.from.address', f.address, 254) };
  if (host && !isMailAddress(from.address)) throw new Error('smtp.from.address must be an email address (name@example.com) when smtp.host is set');
  return { host, port, secure: security === 'tls', security, allowInsecure, username: str('smtp.username', raw.username, 500), password: str('smtp.password', raw.password, 500), from };
}
